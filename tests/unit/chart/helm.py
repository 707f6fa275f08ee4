"""Render the chart with the real helm CLI (.tools/bin, installed by `make tools`) and pick resources."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "mlops-stack"
TOOLS = ROOT / ".tools" / "bin"
CI_VALUES = sorted(CHART.glob("ci/*-values.yaml"))
NAMESPACE = "mlops"
RELEASE = "t"
PREFIX = f"{RELEASE}-mlops-stack"
OPENSHIFT_APIS = ("route.openshift.io/v1", "route.openshift.io/v1/Route")
MONITORING_APIS = ("monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor")


class HelmError(Exception):
    """helm exited non-zero; the message is its stderr."""


def helm_path(name: str = "helm") -> str:
    """The binary from .tools/bin (helm = v4, helm3 = v3), else one on PATH."""
    local = TOOLS / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if not found:
        raise HelmError(f"{name} not found: run `make tools` (scripts/get-helm) first")
    return found


def run_helm(args: list[str], helm: str = "helm") -> str:
    proc = subprocess.run([helm_path(helm), *args], capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise HelmError(proc.stderr.strip())
    return proc.stdout


@functools.lru_cache(maxsize=64)
def _render(
    values_files: tuple[str, ...],
    set_values: tuple[str, ...],
    api_versions: tuple[str, ...],
    is_upgrade: bool,
    helm: str,
) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for f in values_files:
        args += ["-f", f]
    for s in set_values:
        args += ["--set", s]
    for api in api_versions:
        args += ["--api-versions", api]
    if is_upgrade:
        args.append("--is-upgrade")
    return run_helm(args, helm)


def render_text(
    values_files: Iterable[Path | str] = (),
    set_values: Iterable[str] = (),
    api_versions: Iterable[str] = (),
    is_upgrade: bool = False,
    helm: str = "helm",
) -> str:
    return _render(
        tuple(str(f) for f in values_files), tuple(set_values), tuple(api_versions), is_upgrade, helm
    )


def render(
    values_files: Iterable[Path | str] = (),
    set_values: Iterable[str] = (),
    api_versions: Iterable[str] = (),
    is_upgrade: bool = False,
    helm: str = "helm",
) -> list[dict[str, Any]]:
    text = render_text(values_files, set_values, api_versions, is_upgrade, helm)
    return [d for d in yaml.safe_load_all(text) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one resource of `kind` named `<release>-mlops-stack-<name>`."""
    full = f"{PREFIX}-{name}"
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == full]
    assert len(matches) == 1, (
        f"expected one {kind} {full}, found {[d['metadata']['name'] for d in docs if d['kind'] == kind]}"
    )
    return matches[0]


def kinds(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((d["kind"], d["metadata"]["name"]) for d in docs)


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    kind = resource["kind"]
    if kind == "Pod":
        return resource["spec"]
    if kind == "CronJob":
        return resource["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return resource["spec"]["template"]["spec"]


def containers(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """All containers (init and main) of a workload, by name."""
    spec = pod_spec(resource)
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in {"Deployment", "StatefulSet", "Job", "CronJob", "Pod"}]
