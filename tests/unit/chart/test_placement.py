"""MLflow replicas: the PodDisruptionBudget (only with more than one replica, selecting exactly the
Deployment's pods), the anti-affinity preset and topology spread, rendered exactly (Helm 3 and 4)."""

from __future__ import annotations

from typing import Any

import pytest

from .helm import CHART, PREFIX, find, pod_spec, render

CORPORATE = CHART / "ci" / "corporate-values.yaml"
MLFLOW_PODS = {
    "app.kubernetes.io/name": "mlops-stack",
    "app.kubernetes.io/instance": "t",
    "app.kubernetes.io/component": "mlflow",
}
TERM = {"labelSelector": {"matchLabels": MLFLOW_PODS}, "topologyKey": "kubernetes.io/hostname"}


def pdbs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == "PodDisruptionBudget"]


def mlflow_pod(set_values: list[str], helm: str = "helm") -> dict[str, Any]:
    return pod_spec(find(render(set_values=set_values, helm=helm), "Deployment", "mlflow"))


def test_one_replica_has_no_budget_and_no_anti_affinity(helm_binary: str) -> None:
    docs = render(helm=helm_binary)
    assert pdbs(docs) == []
    spec = pod_spec(find(docs, "Deployment", "mlflow"))
    assert "affinity" not in spec
    assert "topologySpreadConstraints" not in spec


def test_replicas_get_a_budget_that_selects_the_deployments_pods(helm_binary: str) -> None:
    docs = render(set_values=["mlflow.replicas=3"], helm=helm_binary)
    [pdb] = pdbs(docs)
    deployment = find(docs, "Deployment", "mlflow")
    assert pdb["metadata"]["name"] == f"{PREFIX}-mlflow"
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": MLFLOW_PODS}}
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


@pytest.mark.parametrize(
    ("setting", "spec"),
    [
        ("mlflow.podDisruptionBudget.minAvailable=2", {"minAvailable": 2}),
        ("mlflow.podDisruptionBudget.minAvailable=50%", {"minAvailable": "50%"}),
        ("mlflow.podDisruptionBudget.maxUnavailable=34%", {"maxUnavailable": "34%"}),
    ],
)
def test_budget_size(setting: str, spec: dict[str, Any]) -> None:
    [pdb] = pdbs(render(set_values=["mlflow.replicas=3", setting]))
    assert pdb["spec"] == {**spec, "selector": {"matchLabels": MLFLOW_PODS}}


def test_budget_can_be_turned_off() -> None:
    assert pdbs(render(set_values=["mlflow.replicas=3", "mlflow.podDisruptionBudget.enabled=false"])) == []


def test_soft_anti_affinity_is_the_default_with_replicas(helm_binary: str) -> None:
    assert mlflow_pod(["mlflow.replicas=2"], helm_binary)["affinity"] == {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": TERM}]
        }
    }


def test_hard_anti_affinity_merges_with_the_users_affinity() -> None:
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ml"]}]}]
        }
    }
    spec = mlflow_pod(
        [
            "mlflow.replicas=2",
            "mlflow.podAntiAffinityPreset=hard",
            "mlflow.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".nodeSelectorTerms[0].matchExpressions[0].key=pool",
            "mlflow.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".nodeSelectorTerms[0].matchExpressions[0].operator=In",
            "mlflow.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".nodeSelectorTerms[0].matchExpressions[0].values[0]=ml",
        ]
    )
    assert spec["affinity"] == {
        "nodeAffinity": node_affinity,
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [TERM]},
    }


def test_no_preset_leaves_the_affinity_alone() -> None:
    assert "affinity" not in mlflow_pod(["mlflow.replicas=2", "mlflow.podAntiAffinityPreset="])


def test_topology_spread_gets_the_mlflow_pods_as_default_selector() -> None:
    spec = pod_spec(find(render([CORPORATE]), "Deployment", "mlflow"))
    assert spec["topologySpreadConstraints"] == [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": MLFLOW_PODS},
        }
    ]
    assert spec["affinity"] == {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [TERM]}}


def test_a_given_topology_selector_is_kept() -> None:
    spec = mlflow_pod(
        [
            "mlflow.topologySpreadConstraints[0].maxSkew=2",
            "mlflow.topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
            "mlflow.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
            "mlflow.topologySpreadConstraints[0].labelSelector.matchLabels.team=ml",
        ]
    )
    assert spec["topologySpreadConstraints"] == [
        {
            "maxSkew": 2,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"team": "ml"}},
        }
    ]


def test_other_components_are_not_spread() -> None:
    docs = render([CORPORATE])
    for kind, name in [("StatefulSet", "postgresql"), ("Deployment", "sftp")]:
        assert "topologySpreadConstraints" not in pod_spec(find(docs, kind, name))
    assert "affinity" not in pod_spec(find(docs, "StatefulSet", "postgresql"))
    # SFTP goes to the backup claim's holder, so that the backup pod can mount both claims (test_storage.py).
    assert pod_spec(find(docs, "Deployment", "sftp"))["affinity"]["podAffinity"]
