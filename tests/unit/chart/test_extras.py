"""extraEnv, extraEnvFrom, extraVolumes and extraVolumeMounts of each component: rendered exactly, after the
chart's own entries, into the containers and pods of that component only (both Helm major versions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .helm import containers, find, pod_spec, render

PROXY = [
    {"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"},
    {"name": "NO_PROXY", "valueFrom": {"configMapKeyRef": {"name": "proxy", "key": "no-proxy"}}},
]
ENV_FROM = [
    {"configMapRef": {"name": "team-settings"}},
    {"secretRef": {"name": "team-tokens"}, "prefix": "T_"},
]
VOLUMES = [{"name": "company-ca", "configMap": {"name": "company-ca"}}]
MOUNTS = [{"name": "company-ca", "mountPath": "/etc/company-ca", "readOnly": True}]
EXTRAS = {"extraEnv": PROXY, "extraEnvFrom": ENV_FROM, "extraVolumes": VOLUMES, "extraVolumeMounts": MOUNTS}

# component -> (kind, name, the containers that receive its extras)
TARGETS = {
    "mlflow": ("Deployment", "mlflow", ["mlflow"]),
    "postgresql": ("StatefulSet", "postgresql", ["postgresql"]),
    "sftp": ("Deployment", "sftp", ["sftp"]),
    "migration": ("Job", "db-migration", ["pg-dump", "db-upgrade"]),
    "backup": ("CronJob", "backup", ["backup"]),
}


def values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.parametrize("component", sorted(TARGETS))
def test_extras_come_after_the_charts_own_entries(component: str, tmp_path: Path, helm_binary: str) -> None:
    kind, name, receivers = TARGETS[component]
    plain = find(render(is_upgrade=True, helm=helm_binary), kind, name)
    extended = find(
        render([values_file(tmp_path, {component: EXTRAS})], is_upgrade=True, helm=helm_binary), kind, name
    )
    assert pod_spec(extended)["volumes"] == pod_spec(plain)["volumes"] + VOLUMES
    for cname, container in containers(extended).items():
        before = containers(plain)[cname]
        if cname in receivers:
            assert container["env"] == before["env"] + PROXY, cname
            assert container["envFrom"] == ENV_FROM, cname
            assert container["volumeMounts"] == before["volumeMounts"] + MOUNTS, cname
        else:  # init containers of other jobs (known_hosts, key staging) are the chart's alone
            assert container == before, cname


def test_extras_of_one_component_reach_no_other(tmp_path: Path) -> None:
    plain = render(is_upgrade=True)
    extended = render([values_file(tmp_path, {"mlflow": EXTRAS})], is_upgrade=True)
    for component, (kind, name, _) in TARGETS.items():
        if component != "mlflow":
            assert find(extended, kind, name) == find(plain, kind, name), component


def test_no_extras_render_no_envfrom() -> None:
    for kind, name, _ in TARGETS.values():
        for container in containers(find(render(is_upgrade=True), kind, name)).values():
            assert "envFrom" not in container
