"""The GitLab pipeline: valid for GitLab, and every job only calls Makefile targets and scripts that exist.

`pipeline_problems()` is the rule book; the tests run it on the real .gitlab-ci.yml (no problem allowed)
and on broken copies (each breakage must be reported), so a rule that stopped working would be noticed.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI_FILE = ROOT / ".gitlab-ci.yml"
MAKEFILE = ROOT / "Makefile"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
HELM = ROOT / ".tools" / "bin" / "helm"

STAGES = ["lint", "build", "test", "upgrade-test", "package", "deploy"]
COMPONENTS = {"mlflow", "postgresql", "sftp", "prefect"}
# A job line may only call the Makefile or a script of this repository: the logic lives there, so a
# developer can run exactly what CI runs.
ALLOWED_PREFIXES = ("make ", "scripts/", ".ci/")
MAX_SCRIPT_LINES = 5
# Top-level keys that are not jobs.
GLOBAL_KEYWORDS = {
    "workflow", "stages", "variables", "default", "include", "image", "services",
    "before_script", "after_script", "cache", "spec",
}  # fmt: skip
# A test that skips for a missing Debian package names it: `apt-get install -y PKG` in its skip reason.
SKIP_FOR_PACKAGE = re.compile(r"(?:skip\(|reason=)[^\n]*apt-get install -y ([a-z0-9][a-z0-9.+-]*)")
# A job line that runs a test directory -> that directory (its tests must not skip there for a package).
TEST_DIRS = {"make test-unit": "tests/unit"}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)
PINNED_IMAGE = re.compile(r"^[\w.\-/:]+(:[\w.\-]*\d[\w.\-]*)(@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$")


def load_ci(path: Path = CI_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def makefile_targets(path: Path = MAKEFILE) -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*:(?!=)", path.read_text(), re.MULTILINE))


def jobs(ci: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every job and hidden template (`.name`), with `extends` merged in as GitLab does (deep merge)."""
    raw = {k: v for k, v in ci.items() if k not in GLOBAL_KEYWORDS and isinstance(v, dict)}

    def resolved(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name in seen:
            raise ValueError(f"extends loop through {name}")
        job = raw[name]
        parents = job.get("extends", [])
        merged: dict[str, Any] = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            merged = deep_merge(merged, resolved(parent, (*seen, name)))
        return deep_merge(merged, {k: v for k, v in job.items() if k != "extends"})

    return {name: resolved(name) for name in raw}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def script_lines(job: dict[str, Any], default: dict[str, Any], key: str) -> list[str]:
    lines = job.get(key, default.get(key, []) if key != "script" else [])
    flat: list[str] = []
    for line in lines if isinstance(lines, list) else [lines]:
        flat.extend(line if isinstance(line, list) else [line])
    return [str(line) for line in flat]


def image_names(ci: dict[str, Any]) -> dict[str, str]:
    """Where each image or service is used -> its reference."""
    found: dict[str, str] = {}
    for where, job in {"default": ci.get("default", {}), **jobs(ci)}.items():
        image = job.get("image")
        if image:
            found[f"{where}.image"] = image["name"] if isinstance(image, dict) else image
        for i, service in enumerate(job.get("services", [])):
            found[f"{where}.services[{i}]"] = service["name"] if isinstance(service, dict) else service
    return found


def line_problems(where: str, line: str, targets: set[str], root: Path) -> list[str]:
    if not line.startswith(ALLOWED_PREFIXES):
        return [f"{where}: `{line}` is inline logic; put it in a Makefile target or a scripts/ci-* script"]
    words = shlex.split(line)
    if words[0] == "make":
        return [
            f"{where}: `make {word}` is not a Makefile target"
            for word in words[1:]
            if not word.startswith("-") and "=" not in word and word not in targets
        ]
    script = root / words[0]
    if not script.is_file():
        return [f"{where}: {words[0]} does not exist"]
    if not os.access(script, os.X_OK):
        return [f"{where}: {words[0]} is not executable (chmod +x)"]
    return []


def packages_tests_skip_without(directory: Path) -> set[str]:
    return {pkg for f in directory.rglob("*.py") for pkg in SKIP_FOR_PACKAGE.findall(f.read_text())}


def package_problems(name: str, job: dict[str, Any], ci: dict[str, Any], root: Path) -> list[str]:
    """A job running tests/unit must get from scripts/ci-prepare every package those tests skip without."""
    directories = [TEST_DIRS[line] for line in script_lines(job, {}, "script") if line in TEST_DIRS]
    if not directories or "scripts/ci-prepare" not in script_lines(
        job, ci.get("default", {}), "before_script"
    ):
        return []
    variables = {**ci.get("variables", {}), **job.get("variables", {})}
    chosen = {k: str(variables[k]) for k in ("CI_PACKAGE_SETS", "CI_APT_PACKAGES") if k in variables}
    listed = subprocess.run(
        [str(root / "scripts" / "ci-prepare"), "--packages"],
        env={"PATH": os.environ["PATH"], **chosen}, capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    if listed.returncode != 0:
        return [f"{name}: scripts/ci-prepare --packages: {listed.stderr.strip()}"]
    problems = []
    for directory in directories:
        if missing := packages_tests_skip_without(root / directory) - set(listed.stdout.split()):
            problems.append(
                f"{name}: {directory} skips without Debian package(s) {sorted(missing)} that "
                "scripts/ci-prepare does not install here; name a set of its PACKAGE_SETS in CI_PACKAGE_SETS"
            )
    return problems


def pipeline_problems(ci: dict[str, Any], targets: set[str], root: Path = ROOT) -> list[str]:
    """Everything in a parsed .gitlab-ci.yml that breaks the project's rules, as readable sentences."""
    problems: list[str] = []
    default = ci.get("default", {})
    stages = ci.get("stages", [])
    for where, line in [(f"default.{k}", v) for k in ("before_script",) for v in default.get(k, [])]:
        problems += line_problems(where, line, targets, root)
    for name, job in jobs(ci).items():
        if name.startswith("."):
            continue
        if job.get("stage") not in stages:
            problems.append(f"{name}: stage {job.get('stage')!r} is not one of the declared stages {stages}")
        script = script_lines(job, default, "script")
        if not script:
            problems.append(f"{name}: has no script")
        if len(script) > MAX_SCRIPT_LINES:
            problems.append(
                f"{name}: {len(script)} script lines (at most {MAX_SCRIPT_LINES}); move them into a script"
            )
        for key in ("before_script", "script", "after_script"):
            if key in job:
                for line in script_lines(job, default, key):
                    problems += line_problems(f"{name}.{key}", line, targets, root)
        problems += package_problems(name, job, ci, root)
    for where, ref in image_names(ci).items():
        if ref.startswith("$"):
            continue
        if not PINNED_IMAGE.match(ref) or ref.endswith(":latest"):
            problems.append(f"{where}: image {ref} is not pinned to a version")
    for where, variables in [("variables", ci.get("variables", {}))] + [
        (f"{n}.variables", j.get("variables", {})) for n, j in jobs(ci).items()
    ]:
        for key, value in variables.items():
            literal = str(value.get("value", "") if isinstance(value, dict) else value)
            if SECRET_NAME.search(key) and literal and not literal.startswith("$"):
                problems.append(
                    f"{where}.{key}: a credential written in the file; define it as a CI/CD variable"
                )
    return problems


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.gitlab-ci", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ---- the real file


def test_ci_file_validates_against_gitlab_schema() -> None:
    result = check_jsonschema(CI_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_schema_check_rejects_an_invalid_ci_file(tmp_path: Path) -> None:
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(
        CI_FILE.read_text().replace("  script:\n    - make lint", "  scirpt:\n    - make lint", 1)
    )
    result = check_jsonschema(broken)
    assert result.returncode == 1
    assert "scirpt" in result.stdout


def test_pipeline_follows_the_rules() -> None:
    assert pipeline_problems(load_ci(), makefile_targets()) == []


def test_stages_go_from_commit_to_deploy() -> None:
    ci = load_ci()
    assert ci["stages"] == STAGES
    stage_of = {name: job["stage"] for name, job in jobs(ci).items() if "stage" in job}
    assert stage_of == {
        "lint": "lint",
        "chart-and-unit-tests": "lint",
        "build-images": "build",
        "make-test": "test",
        "kind": "test",
        "upgrade-test": "upgrade-test",
        "package": "package",
        "deploy-staging": "deploy",
        "deploy-production": "deploy",
    }


def test_lint_stage_runs_the_developer_targets() -> None:
    all_jobs = jobs(load_ci())
    assert all_jobs["lint"]["script"] == ["make lint"]
    assert all_jobs["chart-and-unit-tests"]["script"] == ["make test-unit"]
    # An unprivileged job: the unit tests that run containers are left to `make-test`.
    assert '-m "not images"' in all_jobs["chart-and-unit-tests"]["variables"]["PYTEST_ARGS"]
    # `make lint` is where the CI file itself is validated, so `make test` (which runs lint) checks it too.
    dry_run = subprocess.run(
        ["make", "-n", "lint"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml" in dry_run


def test_unit_tests_name_the_packages_they_skip_without() -> None:
    # The rule above reads skip reasons; it would pass vacuously if it found none.
    assert "openssh-server" in packages_tests_skip_without(ROOT / "tests" / "unit")
    job = jobs(load_ci())["chart-and-unit-tests"]
    assert job["variables"]["CI_PACKAGE_SETS"] == "unit-tests"


def test_build_job_builds_each_image_with_buildah() -> None:
    build = jobs(load_ci())["build-images"]
    assert build["image"].startswith("quay.io/buildah/stable:v")
    assert set(build["parallel"]["matrix"][0]["COMPONENT"]) == COMPONENTS
    assert {p.name for p in (ROOT / "images").iterdir() if p.is_dir()} >= COMPONENTS
    assert build["script"] == ['scripts/ci-build-image "$COMPONENT"']


def test_make_test_job_runs_the_same_entry_point_as_here() -> None:
    job = jobs(load_ci())["make-test"]
    assert job["script"][-1] == ".ci/run"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_kind_jobs_use_a_pinned_dind_service_and_the_built_images() -> None:
    all_jobs = jobs(load_ci())
    for name in ("kind", "upgrade-test"):
        job = all_jobs[name]
        assert job["services"] == [{"name": "docker:28.5.1-dind", "alias": "docker"}]
        assert job["variables"]["DOCKER_HOST"] == "tcp://docker:2376"
        assert job["variables"]["KIND_API_SERVER_HOST"] == "docker"
        assert job["variables"]["KIND_REQUIRED"] == "1"
        assert job["variables"]["IMAGE_TAG"] == "$CI_COMMIT_SHA"
        assert job["needs"] == ["build-images"]
    assert all_jobs["kind"]["script"][-2:] == ["scripts/kind-up", "make test-kind"]
    assert all_jobs["upgrade-test"]["script"][-1] == "scripts/ci-upgrade-test"
    assert all_jobs["upgrade-test"]["allow_failure"] == {"exit_codes": [77]}


def test_package_and_production_run_only_on_release_tags() -> None:
    all_jobs = jobs(load_ci())
    tag_rule = r"$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/"
    assert all_jobs["package"]["rules"] == [{"if": tag_rule}]
    assert all_jobs["deploy-production"]["rules"] == [{"if": tag_rule, "when": "manual"}]
    assert all_jobs["deploy-staging"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]


def test_deploys_use_gitlab_environments_and_an_atomic_upgrade() -> None:
    all_jobs = jobs(load_ci())
    for env in ("staging", "production"):
        job = all_jobs[f"deploy-{env}"]
        assert job["environment"] == {"name": env, "deployment_tier": env}
        assert job["resource_group"] == env
        assert job["script"][-1] == f"scripts/ci-deploy {env}"
    deploy = (ROOT / "scripts" / "ci-deploy").read_text()
    # helm 4 spells --atomic as --rollback-on-failure (--atomic is deprecated there).
    assert "helm upgrade --install" in deploy
    for flag in ("--rollback-on-failure", "--wait=watcher", "--timeout"):
        assert flag in deploy


def test_ci_scripts_are_valid_bash() -> None:
    scripts = [*sorted((ROOT / "scripts").glob("ci-*")), ROOT / "scripts" / "kind-up"]
    assert len(scripts) >= 8
    for script in scripts:
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
        assert "set -euo pipefail" in script.read_text(), f"{script.name} lacks set -euo pipefail"


def kind_node_kubernetes_version() -> str:
    """The Kubernetes version of the kind node image pinned in scripts/kind-up."""
    match = re.search(
        r"kindest/node:v(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}", (ROOT / "scripts" / "kind-up").read_text()
    )
    assert match, "scripts/kind-up must pin kindest/node:vX.Y.Z@sha256:<digest>"
    return match.group(1)


@pytest.mark.skipif(not HELM.exists(), reason="helm not installed in .tools/bin: run `make tools`")
def test_what_the_kind_job_installs_lints_and_validates_for_the_kind_node(tmp_path: Path) -> None:
    values = ["-f", "tests/kind/values.yaml", *subprocess.run(
        ["scripts/ci-image-values", "registry.example.com/group/mlops-stack", "0123abc"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()]  # fmt: skip
    lint = subprocess.run(
        [str(HELM), "lint", "--strict", "charts/mlops-stack", *values],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    rendered = tmp_path / "kind.yaml"
    rendered.write_text(
        subprocess.run(
            [str(HELM), "template", "mlops-stack", "charts/mlops-stack", "-n", "mlops-stack", *values],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
        ).stdout
    )  # fmt: skip
    assert "image: registry.example.com/group/mlops-stack/mlflow:0123abc" in rendered.read_text()
    validate = subprocess.run(
        [str(Path(sys.executable).with_name("kubernetes-validate")), "--strict", "--quiet",
         "--kubernetes-version", kind_node_kubernetes_version(), str(rendered)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert validate.returncode == 0, validate.stdout + validate.stderr


# ---- broken copies: each rule must report its breakage


def broken(mutate: Any) -> dict[str, Any]:
    ci = load_ci()
    mutate(ci)
    return ci


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda ci: ci["lint"]["script"].append("pip install ruff && ruff check ."),
            "lint.script: `pip install ruff && ruff check .` is inline logic; "
            "put it in a Makefile target or a scripts/ci-* script",
            id="inline-logic",
        ),
        pytest.param(
            lambda ci: ci["lint"].update(script=["make lint-everything"]),
            "lint.script: `make lint-everything` is not a Makefile target",
            id="unknown-make-target",
        ),
        pytest.param(
            lambda ci: ci["package"].update(script=["scripts/ci-publish"]),
            "package.script: scripts/ci-publish does not exist",
            id="missing-script",
        ),
        pytest.param(
            lambda ci: ci["kind"].update(script=["make venv"] * 6),
            "kind: 6 script lines (at most 5); move them into a script",
            id="too-long",
        ),
        pytest.param(
            lambda ci: ci["build-images"].update(image="quay.io/buildah/stable:latest"),
            "build-images.image: image quay.io/buildah/stable:latest is not pinned to a version",
            id="latest-image",
        ),
        pytest.param(
            lambda ci: ci[".kind-cluster"]["services"][0].update(name="docker:dind"),
            "kind.services[0]: image docker:dind is not pinned to a version",
            id="unpinned-service",
        ),
        pytest.param(
            lambda ci: ci["package"].update(stage="release"),
            "package: stage 'release' is not one of the declared stages",
            id="undeclared-stage",
        ),
        pytest.param(
            lambda ci: ci["deploy-staging"].update(variables={"KUBE_TOKEN": "eyJhbGciOi"}),
            "deploy-staging.variables.KUBE_TOKEN: a credential written in the file",
            id="credential-in-yaml",
        ),
        pytest.param(
            lambda ci: ci["chart-and-unit-tests"]["variables"].pop("CI_PACKAGE_SETS"),
            "chart-and-unit-tests: tests/unit skips without Debian package(s) ['openssh-server'] that "
            "scripts/ci-prepare does not install here",
            id="unit-tests-without-their-packages",
        ),
        pytest.param(
            lambda ci: ci["chart-and-unit-tests"]["variables"].update(CI_PACKAGE_SETS="unit-test"),
            "chart-and-unit-tests: scripts/ci-prepare --packages: ci-prepare: CI_PACKAGE_SETS names "
            "'unit-test', not one of: unit-tests",
            id="unknown-package-set",
        ),
        pytest.param(
            lambda ci: ci["default"].update(before_script=["apt-get install -y make"]),
            "default.before_script: `apt-get install -y make` is inline logic",
            id="inline-default-before-script",
        ),
    ],
)
def test_rules_report_a_broken_pipeline(mutate: Any, expected: str) -> None:
    problems = pipeline_problems(broken(mutate), makefile_targets())
    assert any(p.startswith(expected) for p in problems), problems


def test_rules_report_a_script_that_is_not_executable(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copytree(ROOT / ".ci", tmp_path / ".ci")
    deploy = tmp_path / "scripts" / "ci-deploy"
    deploy.chmod(deploy.stat().st_mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    problems = pipeline_problems(load_ci(), makefile_targets(), root=tmp_path)
    assert problems == [
        "deploy-staging.script: scripts/ci-deploy is not executable (chmod +x)",
        "deploy-production.script: scripts/ci-deploy is not executable (chmod +x)",
    ]


def test_makefile_targets_are_read_from_the_makefile() -> None:
    targets = makefile_targets()
    assert {"lint", "test", "test-unit", "test-kind", "kind-up", "tools", "venv"} <= targets
    assert "SHELL" not in targets


def test_upgrade_test_gives_the_previous_chart_image_flags_only_for_components_it_has(tmp_path: Path) -> None:
    """A release from before Prefect has no `prefect:` values and its schema refuses `prefect.image.*`: the
    previous chart is installed with the flags of its own components, this commit's with all four."""
    previous = tmp_path / "previous"
    previous.mkdir()
    values = (ROOT / "charts" / "mlops-stack" / "values.yaml").read_text()
    (previous / "values.yaml").write_text(re.sub(r"(?ms)^prefect:.*?(?=^\S)", "", values))
    script = (
        f"source {ROOT / 'scripts' / 'ci-upgrade-test'}; IMAGE_PREFIX=registry.example/team; "
        f"image_flags '' {previous}; echo --; image_flags 1.2.3"
    )
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    before, after = done.stdout.split("--\n")
    assert before.splitlines() == [
        f"--set-string={c}.image.repository=registry.example/team/{c}"
        for c in ("mlflow", "postgresql", "sftp")
    ]
    assert after.splitlines() == [
        line
        for c in ("mlflow", "postgresql", "sftp", "prefect")
        for line in (
            f"--set-string={c}.image.repository=registry.example/team/{c}",
            f"--set-string={c}.image.tag=1.2.3",
        )
    ]
