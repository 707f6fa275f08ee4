"""Run jobs of .gitlab-ci.yml on this machine, each in its declared image, with gitlab-ci-local.

    .venv/bin/python -m tests.ci.gitlab_local lint chart-and-unit-tests     (from the repository root)

gitlab-ci-local (pinned, installed with npm into .tools/gitlab-ci-local with a pinned Node.js) runs each
job's before_script and script in a container of the job's image on the local Docker engine, as GitLab's
Docker executor does: the project's tracked files as they are in the working tree, the job's variables,
its artifacts (kept in .cache/gitlab-ci-local/ with the log); not its cache (see run_jobs). Jobs of one
stage run side by side.

Where the declared image cannot be had (no registry answers and it is not on the engine), a stand-in
built here from the project's pinned Debian base takes its place (standins/). The runner is told the
stand-in's name by a CI file that includes .gitlab-ci.yml unchanged and overrides only the jobs' `image:`,
so nothing is tagged under the declared name and the jobs themselves read the real file.

What the machine adds, as a developer behind a proxy would: EXTRA_CA_BUNDLE (a File variable) holds the
CA bundle this machine trusts, and where the helm release download is unreachable CI_APT_PACKAGES adds
npm for scripts/get-helm's npm fallback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# 4.74.0 and later need Node.js 22 (Set.prototype.union); Node.js comes pinned from npm as well, so the
# machine's own Node.js (Debian bookworm has 18) does not matter, only its npm.
GITLAB_CI_LOCAL_VERSION = "4.73.0"
NODE_VERSION = "20.20.2"
TOOL_DIR = ROOT / ".tools" / "gitlab-ci-local"
STATE_DIR = ".cache/gitlab-ci-local"  # relative to ROOT, as gitlab-ci-local wants it
STANDINS = Path(__file__).parent / "standins"
HELPER_IMAGE = "mlops-stack-standin/gitlab-ci-local-util:bookworm"
# Declared image -> (stand-in, its Dockerfile in standins/). Debian bookworm's python3 is 3.11.
STANDIN_FOR = [
    (
        re.compile(r"^python:3\.11(\.\d+)?-slim-bookworm$"),
        ("mlops-stack-standin/python:3.11-slim-bookworm", "python-3.11-slim-bookworm.Dockerfile"),
    ),
]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HELM_DOWNLOADS = "https://get.helm.sh/"
RESULT_LINE = re.compile(r"^\s*(PASS|FAIL|WARN)\s+\[[^\]]*\]\s+(.+?)\s*$")


def _run(args: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def base_image() -> str:
    return (ROOT / "images" / "base-image").read_text().strip()


def image_present(ref: str) -> bool:
    return _run(["docker", "image", "inspect", ref], 60).returncode == 0


def unavailable() -> str | None:
    """Why jobs cannot be run here, or None."""
    for tool, package in (("docker", "docker.io"), ("npm", "npm"), ("rsync", "rsync"), ("git", "git")):
        if not shutil.which(tool):
            return f"{tool} not found: `apt-get install -y {package}` (scripts/install-host-deps)"
    info = _run(["docker", "info", "--format", "{{.ServerVersion}}"], 60)
    if info.returncode != 0:
        return f"no Docker engine answers ({info.stderr.strip()}); start one with scripts/docker-engine"
    if not image_present(base_image()):
        return f"base image {base_image()} missing (the stand-ins start from it): run `make base-image`"
    return None


def install_runner() -> list[str]:
    """The pinned gitlab-ci-local and Node.js in .tools/gitlab-ci-local (npm); returns the command."""
    modules = TOOL_DIR / "node_modules"
    wanted = {"gitlab-ci-local": GITLAB_CI_LOCAL_VERSION, "node": NODE_VERSION}

    def installed(package: str) -> str | None:
        manifest = modules / package / "package.json"
        return json.loads(manifest.read_text()).get("version") if manifest.is_file() else None

    if any(installed(p) != v for p, v in wanted.items()):
        TOOL_DIR.mkdir(parents=True, exist_ok=True)
        specs = [f"{p}@{v}" for p, v in wanted.items()]
        done = _run(["npm", "install", "--no-audit", "--no-fund", "--save-exact", *specs], 900, cwd=TOOL_DIR)
        if done.returncode != 0:
            raise RuntimeError(f"npm install {' '.join(specs)} failed:\n{done.stdout}\n{done.stderr}")
    return [str(modules / ".bin" / "node"), str(modules / "gitlab-ci-local" / "dist" / "index.js")]


def build(ref: str, dockerfile: str) -> None:
    """Build a stand-in from the pinned base (the engine's layer cache makes a rebuild take a second)."""
    done = _run(
        ["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base_image()}", "-t", ref,
         "-f", str(STANDINS / dockerfile), str(STANDINS)],
        1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"building the stand-in {ref} failed:\n{done.stdout}\n{done.stderr}")


def image_for(declared: str) -> str:
    """The declared image where the engine has it or a registry gives it, else its stand-in (built)."""
    if image_present(declared) or _run(["docker", "pull", "-q", declared], 600).returncode == 0:
        return declared
    for pattern, (ref, dockerfile) in STANDIN_FOR:
        if pattern.match(declared):
            build(ref, dockerfile)
            return ref
    raise LookupError(f"{declared} cannot be pulled here and has no stand-in in {STANDINS}")


def declared_image(ci: dict[str, Any], job: str) -> str:
    image = ci[job].get("image") or ci.get("default", {}).get("image")
    return image["name"] if isinstance(image, dict) else image


def reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=10).close()  # noqa: S310 (a fixed https URL)
    except urllib.error.HTTPError:
        return True  # an answer, whatever its status
    except (urllib.error.URLError, OSError):
        return False
    return True


def ca_bundle() -> str:
    """What this machine trusts (a TLS-inspecting proxy's CA included) plus EXTRA_CA_BUNDLE if set."""
    parts = [HOST_CA_BUNDLE] if HOST_CA_BUNDLE.is_file() else []
    if os.environ.get("EXTRA_CA_BUNDLE"):
        parts.append(Path(os.environ["EXTRA_CA_BUNDLE"]))
    return "".join(p.read_text() for p in parts)


@dataclass
class LocalRun:
    """What one gitlab-ci-local run of some jobs gave."""

    jobs: list[str]
    images: dict[str, str]  # job -> the image it ran in
    returncode: int = -1
    seconds: float = 0.0
    status: dict[str, str] = field(default_factory=dict)  # job -> PASS / FAIL / WARN
    log: Path = ROOT / STATE_DIR / "run.log"

    def artifact(self, job: str, path: str) -> Path:
        return ROOT / STATE_DIR / "artifacts" / re.sub(r"[^\w-]+", "-", job) / path

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def run_jobs(jobs: list[str], out: IO[str] | None = None, timeout: float = 3600) -> LocalRun:
    """Run the jobs (one gitlab-ci-local pipeline); output to `out`, else to the run's log file."""
    command = install_runner()
    build(HELPER_IMAGE, "gitlab-ci-local-util.Dockerfile")
    ci = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    images = {job: image_for(declared_image(ci, job)) for job in jobs}
    state = ROOT / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(state / "artifacts", ignore_errors=True)
    # The real file, unchanged; overridden are only the images that are stood in for, the JUnit reports
    # (listed as artifact paths too: gitlab-ci-local keeps artifacts:paths, not reports) and the cache
    # (gitlab-ci-local copies it in and out with `docker cp`, 3 GB here: lint and the unit job took 3.8
    # min without it, 6 min with it warm; the venv comes from PyPI through uv in seconds).
    overrides: dict[str, dict[str, Any]] = {job: {"cache": []} for job in jobs}
    for job in jobs:
        if images[job] != declared_image(ci, job):
            overrides[job]["image"] = images[job]
        if junit := ci[job].get("artifacts", {}).get("reports", {}).get("junit"):
            overrides[job]["artifacts"] = {"paths": [junit] if isinstance(junit, str) else junit}
    (state / "standin.gitlab-ci.yml").write_text(
        yaml.safe_dump({"include": [{"local": ".gitlab-ci.yml"}], **overrides}, sort_keys=False)
    )
    variables: dict[str, str] = {}
    if bundle := ca_bundle():
        (state / "extra-ca-bundle.pem").write_text(bundle)
        variables["EXTRA_CA_BUNDLE"] = str(state / "extra-ca-bundle.pem")  # a path: a File variable
    if not reachable(HELM_DOWNLOADS):
        variables["CI_APT_PACKAGES"] = "npm"
    (state / "variables.yml").write_text(yaml.safe_dump(variables))
    args = [
        *command, "--cwd", ".", "--state-dir", STATE_DIR, "--home", STATE_DIR,
        "--file", f"{STATE_DIR}/standin.gitlab-ci.yml", "--variables-file", f"{STATE_DIR}/variables.yml",
        "--helper-image", HELPER_IMAGE, "--pull-policy", "if-not-present", "--no-artifacts-to-source",
        "--cleanup", "--no-color", "--timestamps", *jobs,
    ]  # fmt: skip
    result = LocalRun(jobs, images)
    started = time.monotonic()
    with result.log.open("w") as log:
        sink = out or log
        sink.write(f"# {' '.join(args)}\n# images: {images}\n# variables: {sorted(variables)}\n")
        sink.flush()
        done = subprocess.run(
            args, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False
        )
    result.seconds = time.monotonic() - started
    result.returncode = done.returncode
    if out is None:
        for line in result.log.read_text(errors="replace").splitlines():
            if (match := RESULT_LINE.match(line)) and match[2] in jobs:
                result.status[match[2]] = match[1]
    return result


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    if reason := unavailable():
        print(f"gitlab_local: {reason}", file=sys.stderr)
        return 2
    return run_jobs(argv, out=sys.stdout).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
