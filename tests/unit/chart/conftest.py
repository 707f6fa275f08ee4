"""Fixtures of the chart tests: the real helm binaries and the renders of every CI values file."""

from __future__ import annotations

from typing import Any

import pytest

from .helm import CI_VALUES, MONITORING_APIS, HelmError, helm_path, render


@pytest.fixture(scope="session", params=["helm", "helm3"])
def helm_binary(request: pytest.FixtureRequest) -> str:
    """Both major versions: users run Helm 3 and Helm 4."""
    try:
        helm_path(request.param)
    except HelmError as e:
        pytest.fail(str(e))
    return request.param


@pytest.fixture(scope="session")
def default_docs() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="session")
def ci_renders() -> dict[str, list[dict[str, Any]]]:
    """Every manifest set the suite validates: defaults plus each ci/*-values.yaml (with the
    Prometheus-operator API present so the ServiceMonitor branch is rendered too)."""
    renders = {"default": render(api_versions=MONITORING_APIS)}
    for f in CI_VALUES:
        renders[f.name.removesuffix("-values.yaml")] = render([f], api_versions=MONITORING_APIS)
    return renders
