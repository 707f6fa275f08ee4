"""Fixtures for the kind tests: pytest-helm-charts' cluster on the kubeconfig scripts/kind-up wrote.

pytest-helm-charts connects to an existing cluster (`kube_cluster`) and never creates one or runs helm:
`release` installs the chart with the helm CLI (unless scripts/kind-up already did) and waits for it with
the plugin's wait helpers. Each test module skips as a whole, with `cluster.unreachable_reason()`, when no
kind cluster answers, unless KIND_REQUIRED=1 (the CI kind job), which turns that into an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_helm_charts.clusters import Cluster
from pytest_helm_charts.k8s.deployment import wait_for_deployments_to_run
from pytest_helm_charts.k8s.stateful_set import wait_for_stateful_sets_to_run

from . import cluster

READY_TIMEOUT_SEC = 600


def pytest_configure(config: pytest.Config) -> None:
    # Before the test modules compute their skip: an explicit --kubeconfig wins over the defaults.
    cluster.explicit_kubeconfig = config.getoption("kubeconfig", default=None)
    # In the CI kind job a skip would hide a broken cluster set-up behind a green job.
    if os.environ.get("KIND_REQUIRED") == "1" and (reason := cluster.unreachable_reason()):
        raise pytest.UsageError(f"KIND_REQUIRED=1 but {reason}")


@pytest.fixture(scope="module")
def kube_config() -> str:
    """Overrides pytest-helm-charts' fixture: the kubeconfig found by the skip check, not only $KUBECONFIG."""
    return str(cluster.kubeconfig_path())


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    kubeconfig: Path
    kube: Cluster

    def service(self, component: str) -> str:
        return cluster.component_name(self.kubeconfig, "service", component, self.name, self.namespace)


@pytest.fixture(scope="module")
def release(kube_cluster: Cluster, kube_config: str) -> Release:
    """The chart installed on kind (by scripts/kind-up, else here) with every workload ready."""
    kubeconfig = Path(kube_config)
    cluster.ensure_release(kubeconfig)
    found = Release(cluster.RELEASE, cluster.NAMESPACE, kubeconfig, kube_cluster)
    deployments = [
        cluster.component_name(kubeconfig, "deployment", c, found.name, found.namespace)
        for c in ("mlflow", "sftp")
    ]
    statefulset = cluster.component_name(kubeconfig, "statefulset", "postgresql", found.name, found.namespace)
    assert kube_cluster.kube_client is not None
    wait_for_stateful_sets_to_run(kube_cluster.kube_client, [statefulset], found.namespace, READY_TIMEOUT_SEC)
    wait_for_deployments_to_run(kube_cluster.kube_client, deployments, found.namespace, READY_TIMEOUT_SEC)
    return found


@pytest.fixture(scope="module")
def admin(release: Release) -> cluster.AdminCredentials:
    return cluster.admin_credentials(release.kubeconfig, release.name, release.namespace)


@pytest.fixture(scope="module")
def mlflow_port(release: Release) -> Iterator[int]:
    """A local port forwarded to the MLflow Service."""
    with cluster.port_forward(release.kubeconfig, release.namespace, release.service("mlflow"), 5000) as port:
        yield port


@pytest.fixture(scope="module")
def sftp_port(release: Release) -> Iterator[int]:
    """A local port forwarded to the SFTP Service."""
    with cluster.port_forward(release.kubeconfig, release.namespace, release.service("sftp"), 2222) as port:
        yield port
