"""Write data/wine.csv from the wine data set that ships inside scikit-learn (nothing is downloaded).

The CSV is what DVC versions: `dvc add data/wine.csv` after every change, then commit the .dvc file.
"""

from pathlib import Path

from sklearn.datasets import load_wine

TARGET = "cultivar"


def main(path: Path = Path("data/wine.csv")) -> Path:
    frame = load_wine(as_frame=True).frame.rename(columns={"target": TARGET})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
