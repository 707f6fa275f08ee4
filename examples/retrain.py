"""Re-training on a schedule: get the data of the checked-out commit, train as `train.py` does, compare the
new model with the current `@champion` on the same held-out data, register the new version, and move the
alias only when the new model is better by `margin`.

Runs on the stack's Prefect worker from the deployment in prefect.yaml (`prefect deploy --name retrain`);
the worker's pull step has cloned the project at the configured branch into the working directory. By
hand, from a clean checkout: `python retrain.py`.

Every version it registers is tagged with the decision and both scores (`mlops.retrain.*`), so the
registry shows why a model was or was not promoted.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import mlflow
from prefect import flow, get_run_logger, task
from sklearn.pipeline import Pipeline
from train import Split, evaluate, load_data, load_params, log, split, train

from mlops_stack import tracked_run

ALIAS = "champion"
TAG = "mlops.retrain."


def _dvc(*args: str) -> str:
    done = subprocess.run(["dvc", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`dvc {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


@task
def pull_data() -> None:
    """`dvc pull` of the checked-out commit's data. In the cluster (MLOPS_DVC_REMOTE_URL, set by the chart
    on the worker) the default remote is pointed at the SFTP Service with the worker's key, in
    .dvc/config.local (never committed), since the committed URL's server is the one people reach from
    outside. The committed path is kept: each project has a folder of its own on the store."""
    if server := os.environ.get("MLOPS_DVC_REMOTE_URL"):
        remote = _dvc("config", "core.remote")
        committed = urlsplit(_dvc("config", "--project", f"remote.{remote}.url"))
        in_cluster = urlsplit(server)
        url = urlunsplit((in_cluster.scheme, in_cluster.netloc, committed.path, "", ""))
        _dvc("remote", "modify", "--local", remote, "url", url)
        _dvc("remote", "modify", "--local", remote, "keyfile", os.environ["MLOPS_SFTP_KEY_FILE"])
    _dvc("pull")


def held_out_for(model: Pipeline, data: Split) -> Split:
    """The same held-out rows with the columns `model` was trained on (a champion of an older data version
    may know fewer of them)."""
    columns = list(getattr(model, "feature_names_in_", data.x_test.columns))
    return Split(data.x_train[columns], data.x_test[columns], data.y_train, data.y_test)


@task
def evaluate_champion(name: str, data: Split, metric: str) -> tuple[str, float] | None:
    """(version, score) of the current @champion on the same held-out data; None without a champion."""
    client = mlflow.MlflowClient()
    # Looked up by search first: MLflow's basic-auth answers 403, not 404, for an alias of a missing model.
    models = client.search_registered_models(filter_string=f"name = '{name}'")
    if not models or ALIAS not in models[0].aliases:
        return None
    version = models[0].aliases[ALIAS]
    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    # train.py's own metrics, computed in this task (evaluate.fn: the function without a task run).
    return str(version), evaluate.fn(model, held_out_for(model, data))[metric]


def decide(new: float, champion: float | None, margin: float) -> str:
    """promoted: no champion yet, or the new score beats the champion's by more than `margin`."""
    return "promoted" if champion is None or new > champion + margin else "kept"


@task
def register_and_decide(
    run_id: str, name: str, new: float, champion: tuple[str, float] | None, metric: str, margin: float
) -> dict[str, str]:
    client = mlflow.MlflowClient()
    version = str(mlflow.register_model(f"runs:/{run_id}/model", name).version)
    decision = decide(new, champion[1] if champion else None, margin)
    tags = {
        "decision": decision,
        "metric": metric,
        "margin": str(margin),
        "new_score": f"{new:.6f}",
        "champion_score": f"{champion[1]:.6f}" if champion else "none",
        "champion_version": champion[0] if champion else "none",
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, TAG + key, value)
        client.set_tag(run_id, TAG + key, value)
    if decision == "promoted":
        client.set_registered_model_alias(name, ALIAS, version)
    return {"version": version, **tags}


@flow(name="retrain-wine-classifier")
def retrain(
    model_name: str = "wine-classifier",
    metric: str = "accuracy",
    margin: float = 0.0,
    experiment: str | None = None,
    params_file: str = "params.yaml",
) -> dict[str, str]:
    """pull data -> train (tracked) -> evaluate new and champion -> register -> promote if better.

    `metric` (accuracy or f1_macro, what train.py measures) decides; the new model takes @champion when
    its score exceeds the champion's by more than `margin`. `experiment` defaults to params.yaml's."""
    logger = get_run_logger()
    if metric not in ("accuracy", "f1_macro"):
        raise ValueError(f"metric {metric!r}: use accuracy or f1_macro (what train.py's evaluate measures)")
    params = load_params(Path(params_file), [])
    pull_data()
    with tracked_run(experiment or params["mlflow"]["experiment"], run_name="retrain") as run:
        features, labels = load_data(params["data"]["path"], params["data"]["target"])
        data = split(features, labels, **params["split"])
        model = train(data, **params["model"])
        metrics = evaluate(model, data)
        log(run.info.run_id, {k: v for k, v in params.items() if k != "mlflow"}, metrics, model, data)
    champion = evaluate_champion(model_name, data, metric)
    result = register_and_decide(run.info.run_id, model_name, metrics[metric], champion, metric, margin)
    logger.info("%s version %s: %s", model_name, result["version"], result)
    return result


if __name__ == "__main__":
    print(retrain())
