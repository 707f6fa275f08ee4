"""Data and evidence for the upgrade test (scripts/ci-upgrade-test), on a kind cluster:

    python -m tests.workflow.upgrade seed   --release R --namespace NS --state DIR
    python -m tests.workflow.upgrade verify --release R --namespace NS --state DIR --migration-pods FILE

`seed` runs against the previous release: through a port-forward and with the admin credentials it logs
a run (param, metric, artifact on SFTP), registers a model version with an alias and creates an MLflow
user, and writes what it made to DIR/seed.json. `verify` runs after `helm upgrade` to this commit and
checks that all of it is still there, that the migration Job's pod ran its pg-dump init container to
success before `db-upgrade` started (FILE: `kubectl get pods --watch --output-watch-events -o json` taken
during the upgrade, since the Job is deleted once it succeeds), and that the pre-upgrade dump on the
backup volume holds the seeded experiment. Exit 0 when everything holds, 1 with each failure listed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from tests.support.mlflow_users import create_user

from . import cluster

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

MIGRATION_COMPONENT = "migration"
DUMP_CONTAINER = "pg-dump"
MIGRATE_CONTAINER = "db-upgrade"
ARTIFACT = "upgrade-check.txt"


def client_for(tracking_uri: str, admin: cluster.AdminCredentials) -> MlflowClient:
    # Imported here: importing mlflow takes seconds, and the evidence checks (run by every test session)
    # do not need it.
    from mlflow.tracking import MlflowClient

    # MLflow's client reads basic-auth credentials from the environment only.
    os.environ["MLFLOW_TRACKING_USERNAME"] = admin.username
    os.environ["MLFLOW_TRACKING_PASSWORD"] = admin.password
    return MlflowClient(tracking_uri=tracking_uri)


def seed_data(tracking_uri: str, admin: cluster.AdminCredentials) -> dict[str, Any]:
    """Make what must survive the upgrade; returns a description of it (seed.json)."""
    client = client_for(tracking_uri, admin)
    marker = uuid.uuid4().hex
    made: dict[str, Any] = {"marker": marker, "experiment": f"upgrade-check-{marker[:8]}"}
    experiment_id = client.create_experiment(made["experiment"])
    run = client.create_run(experiment_id, run_name="before-upgrade")
    client.log_param(run.info.run_id, "marker", marker)
    client.log_metric(run.info.run_id, "answer", 42.0)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, ARTIFACT).write_text(marker)
        client.log_artifact(run.info.run_id, str(Path(tmp, ARTIFACT)))
    client.set_terminated(run.info.run_id)
    model = f"upgrade-check-{marker[:8]}"
    client.create_registered_model(model)
    version = client.create_model_version(model, f"{run.info.artifact_uri}/{ARTIFACT}", run.info.run_id)
    client.set_registered_model_alias(model, "champion", version.version)
    user = f"ds-{marker[:8]}"
    password = create_user(tracking_uri, (admin.username, admin.password), user)
    made.update(run_id=run.info.run_id, model=model, version=version.version, user=user, password=password)
    return made


def data_problems_at(tracking_uri: str, admin: cluster.AdminCredentials, made: dict[str, Any]) -> list[str]:
    """What of `seed_data`'s output is missing or changed."""
    client = client_for(tracking_uri, admin)
    problems: list[str] = []
    data = client.get_run(made["run_id"]).data
    if data.params.get("marker") != made["marker"] or data.metrics.get("answer") != 42.0:
        problems.append(
            f"run {made['run_id']}: params {data.params}, metrics {data.metrics} after the upgrade"
        )
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(made["run_id"], ARTIFACT, tmp)
        if Path(local).read_text() != made["marker"]:
            problems.append(f"artifact {ARTIFACT} of run {made['run_id']} changed across the upgrade")
    champion = client.get_model_version_by_alias(made["model"], "champion")
    if (champion.version, champion.run_id) != (made["version"], made["run_id"]):
        problems.append(f"{made['model']}@champion is version {champion.version} of run {champion.run_id}")
    as_user = requests.get(
        f"{tracking_uri}/api/2.0/mlflow/experiments/search?max_results=1",
        auth=(made["user"], made["password"]),
        timeout=30,
    )
    if as_user.status_code != 200:
        problems.append(f"user {made['user']} created before the upgrade gets HTTP {as_user.status_code}")
    return problems


def seed(kubeconfig: Path, release: str, namespace: str, state: Path) -> dict[str, Any]:
    admin = cluster.admin_credentials(kubeconfig, release, namespace)
    service = cluster.component_name(kubeconfig, "service", "mlflow", release, namespace)
    with cluster.port_forward(kubeconfig, namespace, service, 5000) as port:
        made = seed_data(f"http://127.0.0.1:{port}", admin)
    state.mkdir(parents=True, exist_ok=True)
    (state / "seed.json").write_text(json.dumps(made, indent=2))
    return made


def data_problems(kubeconfig: Path, release: str, namespace: str, made: dict[str, Any]) -> list[str]:
    admin = cluster.admin_credentials(kubeconfig, release, namespace)
    service = cluster.component_name(kubeconfig, "service", "mlflow", release, namespace)
    with cluster.port_forward(kubeconfig, namespace, service, 5000) as port:
        return data_problems_at(f"http://127.0.0.1:{port}", admin, made)


def watch_events(text: str) -> list[dict[str, Any]]:
    """The objects of `kubectl get --watch --output-watch-events -o json` (concatenated JSON documents)."""
    decoder = json.JSONDecoder()
    events, position = [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return events
        event, position = decoder.raw_decode(text, position)
        events.append(event)


def last_state_of_migration_pods(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Pod name -> the last state seen of each pod of the migration Job."""
    pods: dict[str, dict[str, Any]] = {}
    for event in events:
        pod = event.get("object", event)
        if pod.get("metadata", {}).get("labels", {}).get(cluster.COMPONENT_LABEL) == MIGRATION_COMPONENT:
            pods[pod["metadata"]["name"]] = pod
    return pods


def terminated(pod: dict[str, Any], key: str, name: str) -> dict[str, Any] | None:
    for status in pod.get("status", {}).get(key, []):
        if status["name"] == name:
            return status.get("state", {}).get("terminated")
    return None


def migration_problems(events: list[dict[str, Any]]) -> list[str]:
    """Empty when a migration pod dumped (exit 0), then migrated (exit 0) after the dump had finished."""
    pods = last_state_of_migration_pods(events)
    if not pods:
        return ["no pod of the migration Job was seen during the upgrade"]
    problems = []
    for name, pod in pods.items():
        dump = terminated(pod, "initContainerStatuses", DUMP_CONTAINER)
        migrate = terminated(pod, "containerStatuses", MIGRATE_CONTAINER)
        if dump is None or migrate is None:
            problems.append(
                f"{name}: {DUMP_CONTAINER} terminated={dump}, {MIGRATE_CONTAINER} terminated={migrate}"
            )
            continue
        if dump["exitCode"] != 0 or migrate["exitCode"] != 0:
            codes = f"{DUMP_CONTAINER}={dump['exitCode']} {MIGRATE_CONTAINER}={migrate['exitCode']}"
            problems.append(f"{name}: exit codes {codes}")
            continue
        dumped, started = timestamp(dump["finishedAt"]), timestamp(migrate["startedAt"])
        if started < dumped:
            problems.append(
                f"{name}: {MIGRATE_CONTAINER} started {started} before the dump finished {dumped}"
            )
        else:
            return []
    return problems


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def backup_problems(kubeconfig: Path, release: str, namespace: str, made: dict[str, Any]) -> list[str]:
    """The newest pre-upgrade dump of the tracking database holds the experiment seeded before."""
    claim = cluster.component_name(kubeconfig, "pvc", "backup", release, namespace)
    image = cluster.image_of(kubeconfig, "statefulset", "postgresql", release, namespace)
    script = (
        'f="$(ls -1t /backups/mlflow-pre-upgrade-*.dump | head -n 1)"; echo "dump: $f"; '
        'pg_restore --data-only --table=experiments --file=- "$f" | grep -F -- "$0"'
    )
    code, log = cluster.run_pod(
        kubeconfig, namespace, image, ["sh", "-c", script, made["experiment"]], {"app": "upgrade-check"},
        claims={claim: "/backups"},
    )  # fmt: skip
    if code != 0:
        return [
            f"the pre-upgrade dump does not hold experiment {made['experiment']} (exit {code}): {log.strip()}"
        ]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.workflow.upgrade", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("step", choices=["seed", "verify"])
    parser.add_argument("--release", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--state", type=Path, required=True, help="directory for seed.json")
    parser.add_argument("--migration-pods", type=Path, help="watch output of the migration pods (verify)")
    args = parser.parse_args(argv)
    kubeconfig = cluster.kubeconfig_path()
    if args.step == "seed":
        made = seed(kubeconfig, args.release, args.namespace, args.state)
        print(f"seeded: run {made['run_id']}, model {made['model']}@champion, user {made['user']}")
        return 0
    if args.migration_pods is None:
        parser.error("verify needs --migration-pods")
    made = json.loads((args.state / "seed.json").read_text())
    problems = data_problems(kubeconfig, args.release, args.namespace, made)
    problems += migration_problems(watch_events(args.migration_pods.read_text()))
    problems += backup_problems(kubeconfig, args.release, args.namespace, made)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    if not problems:
        print("OK: run, artifact, model alias and user survived; pg-dump finished before db-upgrade started;")
        print(f"    the pre-upgrade dump holds experiment {made['experiment']}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
