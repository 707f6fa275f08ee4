"""NetworkPolicies: exact selectors and peers; one value turns them all off (local Docker runner)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .helm import CHART, find, render

SELECT = {"app.kubernetes.io/name": "mlops-stack", "app.kubernetes.io/instance": "t"}


def component(name: str) -> dict:
    return {"matchLabels": {**SELECT, "app.kubernetes.io/component": name}}


def components(*names: str) -> dict:
    """A podSelector peer: this release's pods of any of these components."""
    return {
        "podSelector": {
            "matchLabels": SELECT,
            "matchExpressions": [
                {"key": "app.kubernetes.io/component", "operator": "In", "values": list(names)}
            ],
        }
    }


def postgresql_peers(docs: list[dict]) -> list[str]:
    policy = find(docs, "NetworkPolicy", "postgresql")["spec"]
    return policy["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"]


def test_postgresql_without_prefect_only_from_mlflow_migration_backup_and_gc() -> None:
    assert postgresql_peers(render(set_values=["prefect.enabled=false"])) == [
        "mlflow",
        "migration",
        "backup",
        "gc",
    ]


def test_postgresql_only_from_mlflow_migration_backup_gc_and_prefect() -> None:
    policy = find(render(), "NetworkPolicy", "postgresql")["spec"]
    assert policy == {
        "podSelector": component("postgresql"),
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "podSelector": {
                            "matchLabels": SELECT,
                            "matchExpressions": [
                                {
                                    "key": "app.kubernetes.io/component",
                                    "operator": "In",
                                    "values": ["mlflow", "migration", "backup", "gc", "prefect"],
                                }
                            ],
                        }
                    }
                ],
                "ports": [{"port": 5432, "protocol": "TCP"}],
            }
        ],
    }


MLFLOW_STORE_RULE = {
    "from": [components("mlflow", "gc", "test")],
    "ports": [{"port": 2223, "protocol": "TCP"}],
}


def test_sftp_mlflows_store_from_mlflow_gc_and_test_pod_the_dvc_store_from_worker_and_clients() -> None:
    policy = find(render([CHART / "ci" / "openshift-values.yaml"]), "NetworkPolicy", "sftp")["spec"]
    assert policy["podSelector"] == component("sftp")
    assert policy["ingress"] == [
        MLFLOW_STORE_RULE,
        {
            "from": [{"podSelector": component("prefect-worker")}, {"ipBlock": {"cidr": "10.20.0.0/16"}}],
            "ports": [{"port": 2222, "protocol": "TCP"}],
        },
    ]


def test_the_dvc_store_without_any_allowed_peer_has_no_rule_rather_than_an_open_one(tmp_path: Path) -> None:
    """An ingress rule with an empty `from` admits every source: without worker, CIDRs or extraFrom the
    DVC port gets no rule at all."""
    policy = find(render(set_values=["prefect.enabled=false"]), "NetworkPolicy", "sftp")["spec"]
    assert policy["ingress"] == [MLFLOW_STORE_RULE]
    extra = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ci"}}}
    values = tmp_path / "extra.yaml"
    values.write_text(yaml.safe_dump({"networkPolicy": {"sftp": {"extraFrom": [extra]}}}))
    docs = render([values], set_values=["prefect.enabled=false"])
    assert find(docs, "NetworkPolicy", "sftp")["spec"]["ingress"] == [
        MLFLOW_STORE_RULE,
        {"from": [extra], "ports": [{"port": 2222, "protocol": "TCP"}]},
    ]


def test_mlflow_from_router_and_ingress_namespaces() -> None:
    policy = find(render(), "NetworkPolicy", "mlflow")["spec"]
    assert policy["podSelector"] == component("mlflow")
    assert policy["ingress"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"policy-group.network.openshift.io/ingress": ""}}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
                components("test", "prefect-worker", "mlflow-account"),
            ],
            "ports": [{"port": 5000, "protocol": "TCP"}],
        }
    ]


def test_client_only_pods_accept_nothing() -> None:
    policy = find(render(), "NetworkPolicy", "clients")["spec"]
    assert policy == {
        "podSelector": {
            "matchLabels": SELECT,
            "matchExpressions": [
                {
                    "key": "app.kubernetes.io/component",
                    "operator": "In",
                    "values": ["migration", "backup", "gc", "test", "prefect-worker", "mlflow-account"],
                }
            ],
        },
        "policyTypes": ["Ingress"],
        "ingress": [],
    }


def test_selectors_match_the_pods_they_protect() -> None:
    docs = render(is_upgrade=True)
    labels = {
        (d["kind"], d["metadata"]["name"]): (
            d["metadata"]["labels"]
            if d["kind"] == "Pod"
            else d["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
            if d["kind"] == "CronJob"
            else d["spec"]["template"]["metadata"]["labels"]
        )
        for d in docs
        if d["kind"] in {"Deployment", "StatefulSet", "Job", "CronJob", "Pod"}
    }
    components = {name: lab["app.kubernetes.io/component"] for (_, name), lab in labels.items()}
    assert components == {
        "t-mlops-stack-mlflow": "mlflow",
        "t-mlops-stack-sftp": "sftp",
        "t-mlops-stack-postgresql": "postgresql",
        "t-mlops-stack-backup": "backup",
        "t-mlops-stack-verify": "backup",
        "t-mlops-stack-restore": "backup",
        "t-mlops-stack-gc": "gc",
        "t-mlops-stack-db-migration": "migration",
        "t-mlops-stack-test": "test",
        "t-mlops-stack-prefect": "prefect",
        "t-mlops-stack-prefect-worker": "prefect-worker",
        "t-mlops-stack-mlflow-account": "mlflow-account",
    }
    assert all(lab["app.kubernetes.io/instance"] == "t" for lab in labels.values())


def test_one_value_turns_every_policy_off() -> None:
    assert [
        d for d in render(set_values=["networkPolicy.enabled=false"]) if d["kind"] == "NetworkPolicy"
    ] == []
    assert len([d for d in render() if d["kind"] == "NetworkPolicy"]) == 6


def test_prefect_server_from_router_namespaces_its_worker_and_the_test_pod() -> None:
    docs = render(set_values=["networkPolicy.prefect.extraFrom[0].namespaceSelector.matchLabels.team=ds"])
    policy = find(docs, "NetworkPolicy", "prefect")["spec"]
    assert policy["podSelector"] == component("prefect")
    assert policy["ingress"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"policy-group.network.openshift.io/ingress": ""}}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
                components("prefect-worker", "test"),
                {"namespaceSelector": {"matchLabels": {"team": "ds"}}},
            ],
            "ports": [{"port": 4200, "protocol": "TCP"}],
        }
    ]


def test_without_prefect_no_policy_names_its_pods() -> None:
    docs = render(set_values=["prefect.enabled=false"])
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert len(policies) == 5
    assert "prefect" not in str(policies)
    assert "mlflow-account" not in str(policies)


def test_backup_pods_reach_only_dns_and_the_database_with_the_repository_on_the_backup_volume() -> None:
    policy = find(render(), "NetworkPolicy", "backup")["spec"]
    assert policy["podSelector"] == component("backup")  # the backup, verify and restore pods
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == []
    assert policy["egress"] == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"to": [{"podSelector": component("postgresql")}], "ports": [{"port": 5432, "protocol": "TCP"}]},
    ]


def test_an_off_cluster_repository_is_reached_on_its_port_or_the_given_peers_only() -> None:
    s3 = [
        "backup.restic.repository=s3:https://s3.example.com:9000/b/team",
        "backup.restic.credentialsSecret=s3",
    ]
    assert find(render(set_values=s3), "NetworkPolicy", "backup")["spec"]["egress"][2] == {
        "ports": [{"port": 9000, "protocol": "TCP"}]
    }
    sftp = ["backup.restic.repository=sftp:bk@backup.example.com:/srv/r", "backup.restic.credentialsSecret=k",
            "backup.restic.sftpPort=2200"]  # fmt: skip
    assert find(render(set_values=sftp), "NetworkPolicy", "backup")["spec"]["egress"][2] == {
        "ports": [{"port": 2200, "protocol": "TCP"}]
    }
    peers = [*s3, "backup.restic.egress[0].to[0].ipBlock.cidr=10.30.0.10/32",
             "backup.restic.egress[0].ports[0].port=9000"]  # fmt: skip
    assert find(render(set_values=peers), "NetworkPolicy", "backup")["spec"]["egress"][2:] == [
        {"to": [{"ipBlock": {"cidr": "10.30.0.10/32"}}], "ports": [{"port": 9000}]}
    ]
