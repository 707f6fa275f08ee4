"""Training pipeline: Prefect 3 tasks in a flow, tracked in MLflow with the code's commit and the data's md5.

    python train.py                    # uses params.yaml
    python train.py --set model.C=0.1

Commit code changes before training (the run records the commit); `tracked_run` refuses a dirty tree.
Parameter changes need no commit: they are logged with the run.
"""

import argparse
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import yaml
from mlflow.models import infer_signature
from prefect import flow, task
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_stack import tracked_run


@dataclass
class Split:
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


@task
def load_data(path: str, target: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(path)
    return frame.drop(columns=[target]), frame[target]


@task
def split(features: pd.DataFrame, labels: pd.Series, test_size: float, random_state: int) -> Split:
    parts = train_test_split(
        features, labels, test_size=test_size, random_state=random_state, stratify=labels
    )
    return Split(*parts)


@task
def train(data: Split, C: float, max_iter: int) -> Pipeline:
    # Scaling + logistic regression: types MLflow's default (skops) model format trusts on load.
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    return model.fit(data.x_train, data.y_train)


@task
def evaluate(model: Pipeline, data: Split) -> dict[str, float]:
    predicted = model.predict(data.x_test)
    return {
        "accuracy": float(accuracy_score(data.y_test, predicted)),
        "f1_macro": float(f1_score(data.y_test, predicted, average="macro")),
    }


@task
def log(run_id: str, params: dict, metrics: dict[str, float], model: Pipeline, data: Split) -> None:
    """Everything lands on the run opened by the flow (MLflow's active run is per thread; the id is not)."""
    client = mlflow.MlflowClient()
    for name, value in _flatten(params).items():
        client.log_param(run_id, name, value)
    for name, value in metrics.items():
        client.log_metric(run_id, name, value)
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        _log_model(model, data)
    else:
        with mlflow.start_run(run_id=run_id):
            _log_model(model, data)


def _log_model(model: Pipeline, data: Split) -> None:
    example = data.x_test.head(5)
    mlflow.sklearn.log_model(
        model, name="model", signature=infer_signature(example, model.predict(example)), input_example=example
    )


def _flatten(params: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def load_params(path: Path, overrides: list[str]) -> dict:
    params = yaml.safe_load(path.read_text())
    for assignment in overrides:
        dotted, _, raw = assignment.partition("=")
        *parents, leaf = dotted.split(".")
        node = params
        for part in parents:
            node = node[part]
        node[leaf] = yaml.safe_load(raw)
    return params


@flow(name="train-wine-classifier")
def training_pipeline(params: dict) -> str:
    """load data -> split -> train -> evaluate -> log; returns the MLflow run id."""
    with tracked_run(params["mlflow"]["experiment"]) as run:
        features, labels = load_data(params["data"]["path"], params["data"]["target"])
        data = split(features, labels, **params["split"])
        model = train(data, **params["model"])
        metrics = evaluate(model, data)
        log(run.info.run_id, {k: v for k, v in params.items() if k != "mlflow"}, metrics, model, data)
        return run.info.run_id


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a value")
    args = parser.parse_args()
    run_id = training_pipeline(load_params(args.params, args.set))
    print(f"MLflow run: {run_id}")


if __name__ == "__main__":
    main()
