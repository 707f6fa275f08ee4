"""The SFTP pod's two stores (issue 13): one sshd per store, each seeing only its own directory of the data
PVC, each with its own authorized_keys, port and Service; exact rendered objects."""

from __future__ import annotations

from .helm import CHART, containers, env, find, pod_spec, render

OPENSHIFT = CHART / "ci" / "openshift-values.yaml"
KEYS = "/var/lib/sftp-host-keys"


def server_mounts(store_dir: str, sub_path: str, keys_sub_path: str, authorized: str) -> list[dict]:
    return [
        {"name": "data", "mountPath": store_dir, "subPath": sub_path},
        {"name": "tmp", "mountPath": "/tmp", "readOnly": True},
        {"name": "no-shm", "mountPath": "/dev/shm", "readOnly": True},
        {"name": "host-keys", "mountPath": KEYS, "subPath": keys_sub_path},
        {"name": authorized, "mountPath": "/etc/sftp/authorized-keys", "readOnly": True},
    ]


def test_each_store_has_an_sshd_that_mounts_only_its_own_directory_of_the_one_claim() -> None:
    deployment = find(render([OPENSHIFT]), "Deployment", "sftp")
    c = containers(deployment)
    assert c["sftp"]["volumeMounts"] == server_mounts("/data/dvc", "dvc", "dvc", "authorized-keys")
    assert c["sftp-mlflow"]["volumeMounts"] == server_mounts(
        "/data/mlflow-artifacts", "mlflow-artifacts", "mlflow", "authorized-keys-mlflow"
    )
    assert env(c["sftp"]) == {
        "SFTP_USER": "mlops",
        "SFTP_PORT": "2222",
        "SFTP_DATA_DIR": "/data/dvc",
        "SFTP_HOST_KEYS_DIR": KEYS,
    }
    assert env(c["sftp-mlflow"]) == {
        "SFTP_USER": "mlops",
        "SFTP_PORT": "2223",
        "SFTP_DATA_DIR": "/data/mlflow-artifacts",
        "SFTP_HOST_KEYS_DIR": KEYS,
    }
    assert c["sftp"]["ports"] == [{"name": "sftp", "containerPort": 2222, "protocol": "TCP"}]
    assert c["sftp-mlflow"]["ports"] == [{"name": "sftp-mlflow", "containerPort": 2223, "protocol": "TCP"}]
    assert c["sftp-mlflow"]["readinessProbe"] == {"tcpSocket": {"port": "sftp-mlflow"}, "periodSeconds": 10}
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "t-mlops-stack-sftp"}}
    assert volumes["no-shm"] == {"name": "no-shm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}


def test_mlflows_key_is_the_only_key_of_its_store_and_never_one_of_the_dvc_store() -> None:
    c = containers(find(render([OPENSHIFT]), "Deployment", "sftp"))
    assert c["authorized-keys-mlflow"]["command"] == [
        "python3",
        "-m",
        "mlops_stack.ssh",
        "authorized-keys",
        "--out",
        "/etc/sftp/authorized-keys/authorized_keys",
        "--key",
        "/var/run/secrets/mlops-stack/sftp/id_mlflow",
    ]
    assert c["authorized-keys"]["command"] == [
        "python3",
        "-m",
        "mlops_stack.ssh",
        "authorized-keys",
        "--out",
        "/etc/sftp/authorized-keys/authorized_keys",
        "--extra-key",
        "/var/run/secrets/mlops-stack/prefect-worker-ssh/prefect-worker",
        "--append",
        "/etc/sftp/user-keys/authorized_keys",
        "/etc/sftp/existing-user-keys/authorized_keys",
    ]
    assert [m["name"] for m in c["authorized-keys"]["volumeMounts"]] == [
        "prefect-worker-ssh-key",
        "user-keys",
        "authorized-keys",
    ]
    assert [m["name"] for m in c["authorized-keys-mlflow"]["volumeMounts"]] == [
        "sftp-client-key",
        "authorized-keys-mlflow",
    ]


def test_mlflows_store_has_an_in_cluster_service_whatever_the_users_service_is() -> None:
    docs = render([OPENSHIFT])
    assert find(docs, "Service", "sftp")["spec"]["type"] == "LoadBalancer"
    service = find(docs, "Service", "sftp-mlflow")
    assert service["metadata"]["name"] == "t-mlops-stack-sftp-mlflow"
    # Its own component label: lookups of "the sftp Service" by label still find one object.
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "sftp-mlflow"
    assert service["spec"] == {
        "type": "ClusterIP",
        "selector": {
            "app.kubernetes.io/name": "mlops-stack",
            "app.kubernetes.io/instance": "t",
            "app.kubernetes.io/component": "sftp",
        },
        "ports": [{"name": "sftp-mlflow", "port": 2223, "targetPort": "sftp-mlflow", "protocol": "TCP"}],
    }
    assert find(docs, "Service", "sftp")["spec"]["ports"][0]["targetPort"] == "sftp"


def test_mlflow_and_gc_use_mlflows_store_the_prefect_worker_the_dvc_store() -> None:
    docs = render()
    for kind, name in [("Deployment", "mlflow"), ("CronJob", "gc"), ("Pod", "test")]:
        init = containers(find(docs, kind, name))["known-hosts"]["command"]
        assert init[init.index("--port") + 1] == "2223", name
        assert init[init.index("--names") + 1].split(",")[0] == "t-mlops-stack-sftp-mlflow", name
    worker = containers(find(docs, "Deployment", "prefect-worker"))
    init = worker["known-hosts"]["command"]
    assert init[init.index("--port") + 1] == "2222"
    assert init[init.index("--names") + 1].split(",")[0] == "t-mlops-stack-sftp"
    assert env(worker["worker"])["MLOPS_DVC_REMOTE_URL"] == "ssh://mlops@t-mlops-stack-sftp:2222/data/dvc"
    gc = containers(find(docs, "CronJob", "gc"))["gc"]
    assert env(gc)["MLFLOW_ARTIFACTS_DESTINATION"] == (
        "sftp://mlops@t-mlops-stack-sftp-mlflow:2223/data/mlflow-artifacts"
    )


def test_the_extras_go_to_the_dvc_stores_sshd_only() -> None:
    docs = render(
        set_values=["sftp.extraEnv[0].name=HTTPS_PROXY", "sftp.extraEnv[0].value=http://proxy:3128"]
    )
    c = containers(find(docs, "Deployment", "sftp"))
    assert env(c["sftp"])["HTTPS_PROXY"] == "http://proxy:3128"
    assert "HTTPS_PROXY" not in env(c["sftp-mlflow"])
