"""Load the model by its registry alias, as production code does, and predict on rows of a CSV.

python predict.py --model models:/wine-classifier@champion data/wine.csv
"""

import argparse

import mlflow
import pandas as pd
from team_server import use_team_server


def predict(model_uri: str, frame: pd.DataFrame) -> list:
    use_team_server()
    model = mlflow.pyfunc.load_model(model_uri)
    return list(model.predict(frame))


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("csv")
    parser.add_argument("--model", default="models:/wine-classifier@champion")
    parser.add_argument("--target", default="cultivar")
    parser.add_argument("--rows", type=int, default=5)
    args = parser.parse_args()
    frame = pd.read_csv(args.csv).drop(columns=[args.target], errors="ignore").head(args.rows)
    for row, label in zip(frame.index, predict(args.model, frame), strict=True):
        print(f"row {row}: {label}")


if __name__ == "__main__":
    main()
