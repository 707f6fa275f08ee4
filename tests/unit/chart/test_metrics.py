"""Prometheus scrapes MLflow with its own token: the admin password is in no object Prometheus reads.

Prometheus (the operator) reads the ServiceMonitor and the Secrets it references; the metrics container
it scrapes sees only the metrics directory and the token.
"""

from __future__ import annotations

import base64
from typing import Any

from .helm import CHART, MONITORING_APIS, containers, env, find, pod_spec, render

INGRESS = CHART / "ci" / "kubernetes-ingress-values.yaml"  # metrics and the ServiceMonitor on


def _docs() -> list[dict[str, Any]]:
    return render([INGRESS], api_versions=MONITORING_APIS)


def _secret_refs(node: Any) -> set[str]:
    """Names of every Secret a ServiceMonitor points at (`{name, key}` selectors anywhere in it)."""
    if isinstance(node, dict):
        found = {node["name"]} if set(node) == {"name", "key"} else set()
        return found.union(*(_secret_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_secret_refs(v) for v in node))
    return set()


def _data(docs: list[dict[str, Any]], full_name: str) -> dict[str, str]:
    secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == full_name)
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_the_service_monitor_references_only_the_scrape_token() -> None:
    docs = _docs()
    monitor = find(docs, "ServiceMonitor", "mlflow")
    assert _secret_refs(monitor) == {"t-mlops-stack-mlflow-metrics"}
    token = _data(docs, "t-mlops-stack-mlflow-metrics")
    assert list(token) == ["token"]
    assert len(token["token"]) == 48
    admin = _data(docs, "t-mlops-stack-mlflow")
    readable = str(monitor) + "".join(token.values())
    assert admin["admin-password"] not in readable
    assert admin["flask-secret-key"] not in readable


def test_the_scrape_token_is_random_per_install() -> None:
    first = _data(_docs(), "t-mlops-stack-mlflow-metrics")["token"]
    # render() caches by its arguments: a second install differs in one harmless value.
    again = render([INGRESS], set_values=["mlflow.replicas=1"], api_versions=MONITORING_APIS)
    assert first != _data(again, "t-mlops-stack-mlflow-metrics")["token"]


def test_the_metrics_container_sees_only_metrics_and_its_token() -> None:
    deployment = find(_docs(), "Deployment", "mlflow")
    metrics = containers(deployment)["metrics"]
    assert (metrics["command"], metrics["args"]) == (["mlflow-entrypoint"], ["metrics"])
    assert metrics["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert env(metrics) == {
        "MLOPS_METRICS_DIR": "/run/mlflow-metrics",
        "MLOPS_METRICS_TOKEN_FILE": "/var/run/secrets/mlops-stack/mlflow-metrics/token",
        "MLOPS_METRICS_PORT": "9102",
    }
    assert [(m["name"], m.get("readOnly")) for m in metrics["volumeMounts"]] == [
        ("metrics", True),
        ("metrics-token", True),
    ]
    server_mounts = {m["name"]: m["mountPath"] for m in containers(deployment)["mlflow"]["volumeMounts"]}
    assert server_mounts["metrics"] == "/run/mlflow-metrics"
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["metrics"] == {"name": "metrics", "emptyDir": {"sizeLimit": "64Mi"}}
    assert volumes["metrics-token"]["secret"]["secretName"] == "t-mlops-stack-mlflow-metrics"


def test_only_the_metrics_peers_reach_the_metrics_port() -> None:
    docs = _docs()
    service_ports = find(docs, "Service", "mlflow")["spec"]["ports"]
    assert [(p["name"], p["port"]) for p in service_ports] == [("http", 5000), ("metrics", 9102)]
    rules = find(docs, "NetworkPolicy", "mlflow")["spec"]["ingress"]
    assert [r["ports"] for r in rules] == [
        [{"port": 5000, "protocol": "TCP"}],
        [{"port": 9102, "protocol": "TCP"}],
    ]
    assert rules[1]["from"] == [
        {"namespaceSelector": {"matchLabels": {"network.openshift.io/policy-group": "monitoring"}}}
    ]


def test_an_existing_token_secret_is_used_and_none_generated() -> None:
    docs = render(
        [INGRESS],
        set_values=["mlflow.metrics.existingSecret=prom-token", "mlflow.metrics.tokenKey=scrape"],
        api_versions=MONITORING_APIS,
    )
    assert not [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-metrics")]
    monitor = find(docs, "ServiceMonitor", "mlflow")
    assert monitor["spec"]["endpoints"][0]["authorization"]["credentials"] == {
        "name": "prom-token",
        "key": "scrape",
    }
    volume = next(
        v for v in pod_spec(find(docs, "Deployment", "mlflow"))["volumes"] if v["name"] == "metrics-token"
    )
    assert volume["secret"] == {
        "secretName": "prom-token",
        "defaultMode": 0o440,
        "items": [{"key": "scrape", "path": "token"}],
    }


def test_without_metrics_there_is_no_metrics_container_port_or_secret() -> None:
    docs = render()
    deployment = find(docs, "Deployment", "mlflow")
    assert [c["name"] for c in pod_spec(deployment)["containers"]] == ["mlflow"]
    assert [p["name"] for p in find(docs, "Service", "mlflow")["spec"]["ports"]] == ["http"]
    assert not [d for d in docs if d["metadata"]["name"].endswith("-mlflow-metrics")]
