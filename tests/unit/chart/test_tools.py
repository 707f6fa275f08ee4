"""scripts/get-helm (pinned, checksum-verified, idempotent) and the packaged chart."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from .helm import CHART, ROOT, run_helm


def test_get_helm_is_idempotent() -> None:
    out = subprocess.run(
        [str(ROOT / "scripts" / "get-helm")], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert out == "helm: v4.1.4 already installed\nhelm3: v3.17.3 already installed\n"


def test_installed_binaries_match_the_committed_checksums() -> None:
    sums = {}
    for line in (ROOT / "scripts" / "helm.sha256").read_text().splitlines():
        if line and not line.startswith("#"):
            sha, version, _ = line.split(maxsplit=2)
            sums[version] = sha
    for name, version in (("helm", "v4.1.4"), ("helm3", "v3.17.3")):
        digest = subprocess.run(
            ["sha256sum", str(ROOT / ".tools" / "bin" / name)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        assert digest == sums[version], name


@pytest.mark.slow
def test_get_helm_refuses_a_binary_with_another_checksum(tmp_path: Path) -> None:
    """A tampered or changed download is not installed (the npm path: the official site is unreachable
    here; where it is reachable the same check applies to the release tarball)."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy2(ROOT / "scripts" / "get-helm", scripts / "get-helm")
    sums = (ROOT / "scripts" / "helm.sha256").read_text()
    (scripts / "helm.sha256").write_text(sums.replace("210d576a6dc0", "000000000000"))
    proc = subprocess.run(
        [str(scripts / "get-helm")], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 1
    assert (
        "has sha256 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9, expected "
        in proc.stderr
    )
    assert "(scripts/helm.sha256); not installing it" in proc.stderr
    assert not (tmp_path / ".tools" / "bin" / "helm").exists()


def test_packaged_chart_carries_its_files(tmp_path: Path) -> None:
    out = run_helm(["package", str(CHART), "--destination", str(tmp_path)])
    archive = tmp_path / "mlops-stack-0.1.0.tgz"
    assert str(archive) in out
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {
        "mlops-stack/files/helm-test.py",
        "mlops-stack/values.schema.json",
        "mlops-stack/README.md",
    } <= names
    rendered = run_helm(["template", "t", str(archive), "--namespace", "mlops"])
    assert "def main() -> int:" in rendered  # files/helm-test.py, carried in the scripts ConfigMap
