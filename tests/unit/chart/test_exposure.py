"""Route (OpenShift) or Ingress, MLflow's --allowed-hosts, artifact proxying to SFTP, probes, metrics."""

from __future__ import annotations

from .helm import CHART, MONITORING_APIS, OPENSHIFT_APIS, containers, env, find, render

OPENSHIFT = CHART / "ci" / "openshift-values.yaml"
INGRESS = CHART / "ci" / "kubernetes-ingress-values.yaml"
SERVICE_HOSTS = (
    "t-mlops-stack-mlflow:5000,t-mlops-stack-mlflow.mlops:5000,t-mlops-stack-mlflow.mlops.svc:5000,"
    "t-mlops-stack-mlflow.mlops.svc.cluster.local:5000"
)


def mlflow_env(docs: list[dict]) -> dict:
    return env(containers(find(docs, "Deployment", "mlflow"))["mlflow"])


def test_route_when_the_openshift_api_exists() -> None:
    docs = render(set_values=["route.host=mlflow.apps.ocp.example.com"], api_versions=OPENSHIFT_APIS)
    route = find(docs, "Route", "mlflow")
    assert route["spec"] == {
        "host": "mlflow.apps.ocp.example.com",
        "to": {"kind": "Service", "name": "t-mlops-stack-mlflow", "weight": 100},
        "port": {"targetPort": "http"},
        "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
        "wildcardPolicy": "None",
    }
    assert mlflow_env(docs)["MLFLOW_ALLOWED_HOSTS"] == f"mlflow.apps.ocp.example.com,{SERVICE_HOSTS}"
    assert not [d for d in docs if d["kind"] == "Ingress"]


def test_forced_route_without_the_api() -> None:
    docs = render([OPENSHIFT])
    assert find(docs, "Route", "mlflow")["metadata"]["annotations"] == {
        "haproxy.router.openshift.io/timeout": "10m"
    }
    assert mlflow_env(docs)["MLFLOW_ALLOWED_HOSTS"].startswith("mlflow.apps.example.com,")


def test_route_wins_over_ingress_when_the_api_exists() -> None:
    docs = render(
        set_values=["route.host=m.apps.example.com", "ingress.enabled=true", "ingress.host=m.example.com"],
        api_versions=OPENSHIFT_APIS,
    )
    assert [d["kind"] for d in docs if d["kind"] in {"Route", "Ingress"}] == ["Route"]


def test_ingress_elsewhere() -> None:
    docs = render([INGRESS])
    ingress = find(docs, "Ingress", "mlflow")
    assert ingress["spec"] == {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["mlflow.example.com"], "secretName": "mlflow-example-com-tls"}],
        "rules": [
            {
                "host": "mlflow.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "t-mlops-stack-mlflow", "port": {"name": "http"}}
                            },
                        }
                    ]
                },
            }
        ],
    }
    assert mlflow_env(docs)["MLFLOW_ALLOWED_HOSTS"] == f"mlflow.example.com,{SERVICE_HOSTS}"
    assert not [d for d in docs if d["kind"] == "Route"]


def test_no_public_host_means_service_names_only() -> None:
    assert mlflow_env(render())["MLFLOW_ALLOWED_HOSTS"] == SERVICE_HOSTS
    extra = render(set_values=["mlflow.extraAllowedHosts={localhost:*}"])
    assert mlflow_env(extra)["MLFLOW_ALLOWED_HOSTS"] == f"{SERVICE_HOSTS},localhost:*"


def test_artifacts_are_proxied_to_mlflows_own_store() -> None:
    assert mlflow_env(render())["MLFLOW_ARTIFACTS_DESTINATION"] == (
        "sftp://mlops@t-mlops-stack-sftp-mlflow:2223/data/mlflow-artifacts"
    )


def test_mlflow_server_container() -> None:
    docs = render([INGRESS])
    deployment = find(docs, "Deployment", "mlflow")
    assert deployment["spec"]["replicas"] == 2
    server = containers(deployment)["mlflow"]
    assert (server["command"], server["args"]) == (["mlflow-entrypoint"], ["server"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert server["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]
    assert mlflow_env(docs)["MLFLOW_EXPOSE_PROMETHEUS"] == "/run/mlflow-metrics"


def test_service_monitor_only_with_the_operator_api() -> None:
    assert not [d for d in render([INGRESS]) if d["kind"] == "ServiceMonitor"]
    monitor = find(render([INGRESS], api_versions=MONITORING_APIS), "ServiceMonitor", "mlflow")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [
        {
            "port": "metrics",
            "path": "/metrics",
            "interval": "30s",
            "authorization": {
                "type": "Bearer",
                "credentials": {"name": "t-mlops-stack-mlflow-metrics", "key": "token"},
            },
        }
    ]


def test_sftp_service_types() -> None:
    assert find(render(), "Service", "sftp")["spec"]["type"] == "ClusterIP"
    node_port = find(render([INGRESS]), "Service", "sftp")["spec"]
    assert node_port["type"] == "NodePort"
    assert node_port["ports"] == [
        {"name": "sftp", "port": 2222, "targetPort": "sftp", "protocol": "TCP", "nodePort": 30222}
    ]
    lb = find(render([OPENSHIFT]), "Service", "sftp")["spec"]
    assert (lb["type"], lb["loadBalancerSourceRanges"]) == ("LoadBalancer", ["10.20.0.0/16"])


def test_sftp_server_container() -> None:
    deployment = find(render([OPENSHIFT]), "Deployment", "sftp")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    c = containers(deployment)
    assert list(c) == ["stage-host-keys", "authorized-keys-mlflow", "authorized-keys", "sftp", "sftp-mlflow"]
    assert c["stage-host-keys"]["command"] == [
        "run-sftp",
        "stage-host-keys",
        "/var/lib/sftp-host-keys/dvc",
        "/var/lib/sftp-host-keys/mlflow",
    ]
    assert env(c["stage-host-keys"]) == {"SFTP_USER": "mlops"}
    assert c["sftp"]["command"] == c["sftp-mlflow"]["command"] == ["run-sftp"]
    keys = find(render([OPENSHIFT]), "ConfigMap", "sftp-authorized-keys")["data"]["authorized_keys"]
    assert (
        keys
        == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1Bo7lBf9LbEvPO5p9zDkmVHXAk7mQjH3ZxXxU5Nb0 alice@laptop\n"
    )
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in c["sftp"]["volumeMounts"]}
    assert mounts["/etc/sftp/authorized-keys"] is True


def test_standard_labels() -> None:
    mlflow = find(render(), "Deployment", "mlflow")
    assert mlflow["metadata"]["labels"] == {
        "helm.sh/chart": "mlops-stack-0.1.0",
        "app.kubernetes.io/name": "mlops-stack",
        "app.kubernetes.io/instance": "t",
        "app.kubernetes.io/version": "0.1.0",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/part-of": "mlops-stack",
        "app.kubernetes.io/component": "mlflow",
    }
    assert mlflow["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "mlops-stack",
        "app.kubernetes.io/instance": "t",
        "app.kubernetes.io/component": "mlflow",
    }


def test_long_release_names_give_valid_service_names() -> None:
    docs = render(set_values=["fullnameOverride=" + "a" * 50])
    limits = {"Service": 63, "StatefulSet": 52, "CronJob": 52}
    for doc in docs:
        if doc["kind"] in limits:
            assert len(doc["metadata"]["name"]) <= limits[doc["kind"]], doc["metadata"]["name"]
    assert find_by_name(docs, "Service", "a" * 40 + "-postgresql-headless")


def find_by_name(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_local_docker_values_allow_the_published_address() -> None:
    """scripts/stack-up publishes MLflow on 127.0.0.1:<port>; the browser sends that Host header."""
    docs = render([CHART / "ci" / "local-docker-values.yaml"])
    assert mlflow_env(docs)["MLFLOW_ALLOWED_HOSTS"] == f"{SERVICE_HOSTS},127.0.0.1:*,localhost:*"
    assert not [d for d in docs if d["kind"] in {"NetworkPolicy", "Route", "Ingress"}]
    # The local runner has no scheduler: its CronJobs run on demand with `localrun create-job` (make backup,
    # make restore), the restore one never otherwise.
    assert sorted(d["metadata"]["name"] for d in docs if d["kind"] == "CronJob") == [
        "t-mlops-stack-backup",
        "t-mlops-stack-gc",
        "t-mlops-stack-restore",
        "t-mlops-stack-verify",
    ]
