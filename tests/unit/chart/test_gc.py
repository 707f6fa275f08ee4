"""The gc CronJob: on by default, `mlflow gc --older-than <retention>` with the MLflow server's own
database and SFTP access (the same env, password file, client key and known_hosts init container)."""

from __future__ import annotations

from .helm import PREFIX, containers, find, pod_spec, render


def gc_cronjob(set_values: list[str] | None = None, helm: str = "helm") -> dict:
    return find(render(set_values=set_values or [], helm=helm), "CronJob", "gc")


def test_gc_runs_mlflow_gc_daily_with_the_retention(helm_binary: str) -> None:
    cronjob = gc_cronjob(helm=helm_binary)
    assert cronjob["spec"]["schedule"] == "45 3 * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert "timeZone" not in cronjob["spec"]
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (1, 3600)
    gc = containers(cronjob)["gc"]
    assert gc["image"] == "mlops-stack/mlflow:0.1.0"
    assert gc["command"] == ["mlflow-entrypoint"]
    assert gc["args"] == ["gc", "--older-than", "30d"]
    assert gc["resources"] == {
        "requests": {"cpu": "50m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def test_schedule_time_zone_and_retention_are_values() -> None:
    cronjob = gc_cronjob(["gc.schedule=@weekly", "gc.timeZone=Europe/Paris", "gc.retention=1d12h"])
    assert (cronjob["spec"]["schedule"], cronjob["spec"]["timeZone"]) == ("@weekly", "Europe/Paris")
    assert containers(cronjob)["gc"]["args"] == ["gc", "--older-than", "1d12h"]


def test_gc_reaches_the_stores_exactly_as_the_server_does() -> None:
    docs = render()
    server = find(docs, "Deployment", "mlflow")
    cronjob = find(docs, "CronJob", "gc")
    server_env = {e["name"]: e for e in containers(server)["mlflow"]["env"]}
    assert containers(cronjob)["gc"]["env"] == [
        server_env[name]
        for name in [
            "MLFLOW_DB_HOST",
            "MLFLOW_DB_PORT",
            "MLFLOW_DB_USER",
            "MLFLOW_DB_PASSWORD_FILE",
            "MLFLOW_DB_NAME",
            "MLFLOW_AUTH_DB_NAME",
            "MLFLOW_ARTIFACTS_DESTINATION",
            "MLOPS_SFTP_KEY_FILE",
            "MLOPS_SFTP_KNOWN_HOSTS",
        ]
    ]
    assert containers(cronjob)["known-hosts"] == containers(server)["known-hosts"]
    server_mounts = containers(server)["mlflow"]["volumeMounts"]
    assert containers(cronjob)["gc"]["volumeMounts"] == [
        m for m in server_mounts if m["name"] in {"tmp", "db-password", "ssh-config", "sftp-client-key"}
    ]
    server_volumes = {v["name"]: v for v in pod_spec(server)["volumes"]}
    tmp = {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}
    assert pod_spec(cronjob)["volumes"] == [
        tmp,
        *(server_volumes[n] for n in ["db-password", "sftp-host-keys", "ssh-config", "sftp-client-key"]),
    ]
    assert pod_spec(cronjob)["restartPolicy"] == "Never"
    assert pod_spec(cronjob)["serviceAccountName"] == PREFIX


def test_gc_can_be_turned_off() -> None:
    assert not [
        d
        for d in render(set_values=["gc.enabled=false"])
        if d["kind"] == "CronJob" and "gc" in d["metadata"]["name"]
    ]
