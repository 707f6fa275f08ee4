"""Write data/wine.csv from the wine data set that ships inside scikit-learn (nothing is downloaded).

The CSV is what DVC versions: `dvc add data/wine.csv` after every change, then commit the .dvc file.
`--columns alcohol,ash` keeps only those measurements (a first, poorer data version; the re-training
flow then shows a later, complete version taking over the champion alias).
"""

import argparse
from pathlib import Path

from sklearn.datasets import load_wine

TARGET = "cultivar"


def main(path: Path = Path("data/wine.csv"), columns: list[str] | None = None) -> Path:
    frame = load_wine(as_frame=True).frame.rename(columns={"target": TARGET})
    if columns:
        frame = frame[[*columns, TARGET]]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--columns", help="comma-separated measurements to keep (default: all)")
    args = parser.parse_args()
    print(f"wrote {main(columns=args.columns.split(',') if args.columns else None)}")
