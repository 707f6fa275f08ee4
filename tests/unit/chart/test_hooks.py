"""DB migration hook, backups and `helm test`: hook phases, weights, order and what each pod runs."""

from __future__ import annotations

from .helm import CHART, containers, env, find, pod_spec, render

EXTERNAL = CHART / "ci" / "external-database-values.yaml"
NO_BACKUP = CHART / "ci" / "no-backup-values.yaml"


def hooks(docs: list[dict]) -> dict[str, dict[str, str]]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": {
            k: v for k, v in d["metadata"].get("annotations", {}).items() if k.startswith("helm.sh/hook")
        }
        for d in docs
        if "helm.sh/hook" in d["metadata"].get("annotations", {})
    }


def test_hooks_with_in_chart_postgresql() -> None:
    """Pre-install is impossible here: PostgreSQL does not exist while pre-install hooks run. On a fresh
    install the server creates the schema of the empty databases; every upgrade migrates first."""
    assert hooks(render()) == {
        "Job/t-mlops-stack-db-migration": {
            "helm.sh/hook": "pre-upgrade",
            "helm.sh/hook-weight": "10",
            "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
        },
        "Job/t-mlops-stack-mlflow-account": {
            "helm.sh/hook": "post-install,post-upgrade",
            "helm.sh/hook-weight": "0",
            "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
        },
        "Pod/t-mlops-stack-test": {
            "helm.sh/hook": "test",
            "helm.sh/hook-delete-policy": "before-hook-creation",
        },
    }


def test_hooks_with_external_database_also_migrate_before_install() -> None:
    job = hooks(render([EXTERNAL]))["Job/t-mlops-stack-db-migration"]
    assert job["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_the_install_problem_is_documented() -> None:
    readme = (CHART / "README.md").read_text()
    assert "pre-install hook would run before PostgreSQL exists" in readme


def test_upgrade_dumps_every_database_before_migrating() -> None:
    job = find(render(is_upgrade=True), "Job", "db-migration")
    spec = pod_spec(job)
    assert [c["name"] for c in spec["initContainers"]] == ["pg-dump"]  # init containers run first, in order
    # MLflow's and Prefect's migrations, side by side (separate databases), after the dump.
    assert [c["name"] for c in spec["containers"]] == ["db-upgrade", "prefect-db-upgrade"]
    assert job["spec"]["backoffLimit"] == 0  # one failure fails the hook, and so the upgrade
    assert spec["restartPolicy"] == "Never"
    dump = spec["initContainers"][0]
    assert dump["image"] == "mlops-stack/postgresql:0.1.0"
    assert dump["command"] == ["container-entrypoint"]
    script = dump["args"][2]
    assert dump["args"][:2] == ["sh", "-c"]
    assert script.startswith("set -eu\numask 027\n")  # dumps readable by the pod's group only
    assert "while read -r db user password_file; do" in script
    # Each database with its own role and password file; Prefect's role reaches only its database.
    assert script.endswith(
        "done <<'TARGETS'\n"
        "mlflow mlflow /var/run/secrets/mlops-stack/db/password\n"
        "mlflow_auth mlflow /var/run/secrets/mlops-stack/db/password\n"
        "prefect prefect /var/run/secrets/mlops-stack/prefect-db/password\n"
        "TARGETS\n"
    )
    assert 'file="/backups/${db}-pre-upgrade-${stamp}.dump"' in script
    assert (
        'if ! PGUSER="$user" PGPASSWORD="$(cat "$password_file")" pg_dump --format=custom --no-password '
        '--dbname="$db" --file="${file}.partial"; then' in script
    )
    assert 'rm -f -- "${file}.partial"' in script
    assert "tail -n +8" in script  # retention 7
    assert env(dump) == {"PGHOST": "t-mlops-stack-postgresql", "PGPORT": "5432", "PGUSER": "mlflow"}
    upgrade = spec["containers"][0]
    assert upgrade["image"] == "mlops-stack/mlflow:0.1.0"
    assert (upgrade["command"], upgrade["args"]) == (["mlflow-entrypoint"], ["db-upgrade"])
    claim = next(v for v in spec["volumes"] if v["name"] == "backups")["persistentVolumeClaim"]
    assert claim == {"claimName": "t-mlops-stack-backup"}
    # The chart's ServiceAccount may not exist yet when a pre-install hook runs.
    assert "serviceAccountName" not in spec


def test_install_render_has_no_dump_step() -> None:
    assert "initContainers" not in pod_spec(find(render([EXTERNAL]), "Job", "db-migration"))


def test_dump_can_be_turned_off() -> None:
    docs = render([NO_BACKUP], is_upgrade=True)
    assert "initContainers" not in pod_spec(find(docs, "Job", "db-migration"))
    assert not [
        d
        for d in docs
        if d["kind"] in {"CronJob", "PersistentVolumeClaim"} and "backup" in d["metadata"]["name"]
    ]


def test_backup_cronjob() -> None:
    docs = render(set_values=["backup.retention=3", "backup.timeZone=Europe/Paris"])
    cron = find(docs, "CronJob", "backup")
    assert cron["spec"]["schedule"] == "15 2 * * *"
    assert cron["spec"]["timeZone"] == "Europe/Paris"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = containers(cron)["backup"]
    script = container["args"][2]
    # Every database dumped first, then the store, in one snapshot; retention; a sampled read-back.
    assert 'pg_dump --format=custom --no-password --dbname="$db" --file="$dumps/${db}.dump"' in script
    backup = (
        'restic backup --host "$RESTIC_HOST" --tag mlops-stack --exclude .mlops-restore "$dumps" /stores/sftp'
    )
    assert f"{backup}\n" in script
    assert (
        'restic forget --host "$RESTIC_HOST" --tag mlops-stack --prune --keep-daily 7 --keep-last 3 '
        "--keep-monthly 6 --keep-weekly 4\n" in script
    )
    assert 'if ! restic check --read-data-subset="5%"; then' in script
    assert script.index("pg_dump") < script.index("restic backup") < script.index("restic forget")
    assert env(container) == {
        "PGHOST": "t-mlops-stack-postgresql",
        "PGPORT": "5432",
        "PGUSER": "mlflow",
        "RESTIC_REPOSITORY": "/backups/restic",
        "RESTIC_PASSWORD_FILE": "/var/run/secrets/mlops-stack/restic/password",
        "RESTIC_CACHE_DIR": "/tmp/restic-cache",
        "RESTIC_HOST": "t.mlops",
    }
    store = {"name": "store-sftp", "mountPath": "/stores/sftp", "readOnly": True}
    assert store in container["volumeMounts"]
    pvc = find(docs, "PersistentVolumeClaim", "backup")
    assert pvc["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_helm_test_pod_round_trips_through_the_service() -> None:
    pod = find(render(), "Pod", "test")
    spec = pod_spec(pod)
    assert [c["name"] for c in spec["initContainers"]] == ["known-hosts"]
    test = spec["containers"][0]
    assert test["command"] == ["python3", "/opt/mlops-stack/scripts/helm-test.py"]
    assert env(test) == {
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MLFLOW_TRACKING_URI": "http://t-mlops-stack-mlflow:5000",
        "MLFLOW_TRACKING_USERNAME": "admin",
        "ADMIN_PASSWORD_FILE": "/var/run/secrets/mlops-stack/mlflow/admin-password",
        "SFTP_HOST": "t-mlops-stack-sftp-mlflow",  # MLflow's store, with MLflow's key
        "SFTP_PORT": "2223",
        "SFTP_USER": "mlops",
        "MLOPS_SFTP_KEY_FILE": "/var/run/secrets/mlops-stack/sftp/id_mlflow",
        "MLOPS_SFTP_KNOWN_HOSTS": "/var/run/mlops-ssh/known_hosts",
    }
    script = find(render(), "ConfigMap", "scripts")["data"]["helm-test.py"]
    assert script == (CHART / "files" / "helm-test.py").read_text()
    for step in (
        'mlflow.log_param("marker", marker)',
        'mlflow.log_metric("answer", 42.0)',
        "mlflow.log_artifact(",
        "client.get_run(",
        "paramiko.RejectPolicy()",
        'f"/data/mlflow-artifacts/{run.info.experiment_id}/{run.info.run_id}/artifacts/helm-test.txt"',
    ):
        assert step in script
