"""`helm test`: log a run through the MLflow Service with the admin credentials, read it back, and
check that the artifact landed on the SFTP server (with MLflow's own key and pinned host key)."""

import os
import sys
import tempfile
import uuid
from pathlib import Path

import mlflow
import paramiko
from mlflow.tracking import MlflowClient


def main() -> int:
    if "ADMIN_PASSWORD_FILE" in os.environ:  # basic-auth on (the default)
        os.environ["MLFLOW_TRACKING_PASSWORD"] = Path(os.environ["ADMIN_PASSWORD_FILE"]).read_text().strip()
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    marker = uuid.uuid4().hex
    mlflow.set_experiment("helm-test")
    with mlflow.start_run(run_name=f"helm-test-{marker[:8]}") as run:
        mlflow.log_param("marker", marker)
        mlflow.log_metric("answer", 42.0)
        with tempfile.TemporaryDirectory() as tmp:
            artifact = Path(tmp, "helm-test.txt")
            artifact.write_text(marker)
            mlflow.log_artifact(str(artifact))
    client = MlflowClient()
    data = client.get_run(run.info.run_id).data
    if data.params.get("marker") != marker or data.metrics.get("answer") != 42.0:
        print(f"FAIL: read back params={data.params} metrics={data.metrics}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run.info.run_id, "helm-test.txt", tmp)
        if Path(local).read_text() != marker:
            print("FAIL: artifact downloaded through MLflow differs", file=sys.stderr)
            return 1

    ssh = paramiko.SSHClient()
    ssh.load_host_keys(os.environ["MLOPS_SFTP_KNOWN_HOSTS"])
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    ssh.connect(
        os.environ["SFTP_HOST"],
        port=int(os.environ["SFTP_PORT"]),
        username=os.environ["SFTP_USER"],
        pkey=paramiko.PKey.from_path(os.environ["MLOPS_SFTP_KEY_FILE"]),
        allow_agent=False,
        look_for_keys=False,
    )
    path = f"/data/mlflow-artifacts/{run.info.experiment_id}/{run.info.run_id}/artifacts/helm-test.txt"
    with ssh.open_sftp() as sftp, sftp.open(path) as remote:
        on_sftp = remote.read().decode()
    ssh.close()
    if on_sftp != marker:
        print(f"FAIL: {path} on SFTP holds {on_sftp!r}", file=sys.stderr)
        return 1
    print(f"OK: run {run.info.run_id}: param, metric and artifact read back; artifact found at sftp:{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
