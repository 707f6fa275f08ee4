"""`helm lint --strict` with Helm 4 and Helm 3 on the defaults and on every ci/*-values.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helm import CHART, CI_VALUES, run_helm

VALUES = [None, *CI_VALUES]


def test_both_helm_majors_are_installed() -> None:
    assert run_helm(["version", "--short"], "helm").startswith("v4.")
    assert run_helm(["version", "--short"], "helm3").startswith("v3.")


def test_ci_values_cover_the_documented_scenarios() -> None:
    names = {f.name for f in CI_VALUES}
    assert {
        "openshift-values.yaml",
        "kubernetes-ingress-values.yaml",
        "external-database-values.yaml",
        "no-backup-values.yaml",
        "existing-secrets-values.yaml",
    } <= names


@pytest.mark.parametrize("values", VALUES, ids=lambda v: "defaults" if v is None else v.name)
def test_lint_strict(helm_binary: str, values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART), "--namespace", "mlops"]
    if values is not None:
        args += ["-f", str(values)]
    out = run_helm(args, helm_binary)
    assert "1 chart(s) linted, 0 chart(s) failed" in out
    assert "[WARNING]" not in out
    assert "[ERROR]" not in out
