"""One workflow suite, two targets: every test taking `target` runs once on the local stack (`[local]`,
marker `stack`) and once on a kind cluster (`[cluster]`, marker `kind`).

`make test-stack` selects `-m stack`, `make test-kind` `-m "not stack"` (the cluster tests and the upgrade
evidence checks, which need no cluster). A test that holds for one target only says so with
`@only_on("local")` / `@only_on("cluster")`: it keeps that target's id and marker.

The `cluster` target skips, with `cluster.unreachable_reason()`, when no kind cluster answers, unless
KIND_REQUIRED=1 (the CI kind job), which turns that into an error. It uses the kubeconfig given with
--kubeconfig (pytest-helm-charts' option), else .cache/kind/kubeconfig (scripts/kind-up), else $KUBECONFIG.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.support.workflow import Endpoints

from . import cluster
from .targets import KindCluster, LocalStack, Target

TARGETS = {
    "local": pytest.param("local", marks=pytest.mark.stack, id="local"),
    "cluster": pytest.param("cluster", marks=pytest.mark.kind, id="cluster"),
}


def only_on(name: str) -> pytest.MarkDecorator:
    """For a test that holds for one target only (the local stack's down/up, the cluster's objects)."""
    return pytest.mark.parametrize("target", [TARGETS[name]], indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    # Before any test asks for the cluster: an explicit --kubeconfig wins over the defaults.
    cluster.explicit_kubeconfig = config.getoption("kubeconfig", default=None)
    # In the CI kind job a skip would hide a broken cluster set-up behind a green job.
    if os.environ.get("KIND_REQUIRED") == "1" and (reason := cluster.unreachable_reason()):
        raise pytest.UsageError(f"KIND_REQUIRED=1 but {reason}")


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    with LocalStack.running() as stack:
        yield stack


@pytest.fixture(scope="session")
def kind_cluster() -> Iterator[KindCluster]:
    if reason := cluster.unreachable_reason():
        pytest.skip(reason)
    with KindCluster.running(cluster.kubeconfig_path()) as found:
        yield found


@pytest.fixture(scope="session", params=list(TARGETS.values()))
def target(request: pytest.FixtureRequest) -> Target:
    fixture = {"local": "local_stack", "cluster": "kind_cluster"}[request.param]
    return request.getfixturevalue(fixture)


@pytest.fixture(scope="session")
def endpoints(target: Target) -> Endpoints:
    return target.endpoints
