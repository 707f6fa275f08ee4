"""checkov (--framework kubernetes) on every rendered manifest set: 0 failed checks. Skipped checks are
listed, each with its reason, in checkov-skips.txt; nothing else is skipped."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helm import CHART, CI_VALUES, MONITORING_APIS, ROOT, TOOLS, render_text

SKIPS_FILE = Path(__file__).parent / "checkov-skips.txt"
# Values files that describe no cluster deployment, so no cluster policy applies to them.
NOT_FOR_A_CLUSTER = {
    "local-docker-values.yaml": "the local Docker runner cannot enforce NetworkPolicies, so they are off",
}


def skips() -> dict[str, str]:
    out = {}
    for line in SKIPS_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        check, _, reason = line.partition(" ")
        out[check] = reason.strip()
    return out


def run_checkov(directory: Path, skip: list[str]) -> dict[str, Any]:
    checkov = TOOLS / "checkov"
    if not checkov.exists():
        pytest.fail("checkov not found: run `make tools` (scripts/get-checkov) first")
    # --quiet: only failures in the report (the full JSON of ~3000 passed checks triples the run time).
    args = [
        str(checkov),
        "--framework",
        "kubernetes",
        "--directory",
        str(directory),
        "--output",
        "json",
        "--quiet",
        "--skip-download",
    ]
    if skip:
        args += ["--skip-check", ",".join(skip)]
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        cwd=ROOT,
    )
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    report["returncode"] = proc.returncode
    return report


@pytest.fixture(scope="module")
def rendered_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every manifest set, rendered once: defaults and externalDatabase on upgrade too, and each
    ci/*-values.yaml."""
    out_dir = tmp_path_factory.mktemp("rendered")
    (out_dir / "default.yaml").write_text(render_text(api_versions=MONITORING_APIS))
    (out_dir / "default-upgrade.yaml").write_text(render_text(is_upgrade=True))
    # The backup-restore pod, and the pre-upgrade dump pinned to its node.
    external = CHART / "ci" / "external-database-values.yaml"
    (out_dir / "external-database-upgrade.yaml").write_text(render_text([external], is_upgrade=True))
    for f in CI_VALUES:
        if f.name not in NOT_FOR_A_CLUSTER:
            (out_dir / f.name).write_text(render_text([f], api_versions=MONITORING_APIS))
    return out_dir


@pytest.fixture(scope="module")
def checkov_report(rendered_dir: Path) -> dict[str, Any]:
    """The gate: checkov with the documented skips."""
    return run_checkov(rendered_dir, list(skips()))


def test_every_skip_has_a_reason() -> None:
    entries = skips()
    assert entries, "checkov-skips.txt lists no check"
    for check, reason in entries.items():
        assert re.fullmatch(r"CKV2?_K8S_\d+", check), check
        assert len(reason) >= 40, f"{check}: give a real reason"


def test_checkov_finds_no_failed_check(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in checkov_report["results"]["failed_checks"]
    ]
    print(
        f"checkov: Passed checks: {summary['passed']}, Failed checks: {summary['failed']}, "
        f"Skipped checks: {summary['skipped']}"
    )
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["passed"] > 1000
    assert checkov_report["returncode"] == 0


def test_checkov_scanned_every_rendered_resource(rendered_dir: Path, checkov_report: dict[str, Any]) -> None:
    rendered = sum(
        len([d for d in yaml.safe_load_all(f.read_text()) if d]) for f in rendered_dir.glob("*.yaml")
    )
    assert checkov_report["summary"]["parsing_errors"] == 0
    assert (
        checkov_report["summary"]["resource_count"] >= rendered
    )  # it also counts the pods of Jobs and CronJobs


def test_every_skip_is_still_needed(rendered_dir: Path) -> None:
    """Without the skip list exactly the listed checks fail: no skip hides a check that would pass."""
    report = run_checkov(rendered_dir, [])
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert failed == set(skips())


def test_only_the_local_docker_values_are_left_out() -> None:
    names = {f.name for f in CI_VALUES}
    assert set(NOT_FOR_A_CLUSTER) <= names
    assert len(names - set(NOT_FOR_A_CLUSTER)) >= 5
