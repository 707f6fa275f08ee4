"""Fixtures of the chart tests: the real helm binaries."""

from __future__ import annotations

import pytest

from .helm import HelmError, helm_path


@pytest.fixture(scope="session", params=["helm", "helm3"])
def helm_binary(request: pytest.FixtureRequest) -> str:
    """Both major versions: users run Helm 3 and Helm 4."""
    try:
        helm_path(request.param)
    except HelmError as e:
        pytest.fail(str(e))
    return request.param
