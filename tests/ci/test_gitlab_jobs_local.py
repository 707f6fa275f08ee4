"""Every GitLab job passes in its own image: each job's script runs here in its declared image (or a
stand-in of it, see gitlab_local.py), or NOT_HERE says precisely why that job cannot run here (checked to
cover every job; no skipped placeholder test per job, which could never fail).

`lint` and `chart-and-unit-tests` run for real, side by side as in their stage, without a Docker engine
inside the job (as on GitLab's unprivileged runners); the unit job's JUnit report must show no test
failed and none skipped. The others need what only GitLab or a privileged runner gives.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from tests.unit.test_gitlab_ci import jobs, load_ci

from . import gitlab_local

RUN_HERE = ["lint", "chart-and-unit-tests"]
# Job -> why it cannot run here (true wherever its image can be had); checked to cover every job.
NOT_HERE = {
    "build-images": (
        "pushes what it builds to the project's registry ($CI_REGISTRY_IMAGE, with the pipeline's "
        "CI_REGISTRY credentials), which exists only in a GitLab pipeline, and its Fedora Buildah image "
        "has no stand-in here; `make images` builds the same Dockerfiles from the same base here"
    ),
    "make-test": (
        "runs .ci/run, i.e. `make test`, which holds this very test (it would run itself), in a privileged "
        "container that starts its own dockerd (scripts/ci-engine-storage); `make test` is what runs here"
    ),
    "kind": (
        "needs a privileged docker:dind service reached over TLS (no stand-in: a Docker daemon inside the "
        "job's network) and the images build-images pushed to the project's registry for this commit"
    ),
    "upgrade-test": (
        "needs a privileged docker:dind service reached over TLS, the images build-images pushed to the "
        "project's registry for this commit, and the previous release's tag and images"
    ),
    "package": (
        "runs only on release tags and pushes the chart and the images to the project's GitLab registry "
        "with the pipeline's CI_REGISTRY credentials, which exist only in a GitLab pipeline"
    ),
    "deploy-staging": (
        "runs only on the default branch and installs into the cluster of the CI/CD variable KUBECONFIG "
        "(environment staging), which exists only in GitLab's settings"
    ),
    "deploy-production": (
        "runs only on release tags, behind a manual gate, into the cluster of the CI/CD variable "
        "KUBECONFIG (environment production), which exists only in GitLab's settings"
    ),
}
UNIT_REPORT = "pytest-report.xml"


def test_every_job_runs_here_or_says_why() -> None:
    ci = load_ci()
    assert {name for name in jobs(ci) if not name.startswith(".")} == set(RUN_HERE) | set(NOT_HERE)
    for job in RUN_HERE:
        declared = gitlab_local.declared_image(ci, job)
        assert any(pattern.match(declared) for pattern, _ in gitlab_local.STANDIN_FOR), (
            f"{job}: no stand-in for its image {declared} in tests/ci/gitlab_local.py STANDIN_FOR"
        )


@pytest.fixture(scope="module")
def local_run() -> gitlab_local.LocalRun:
    if reason := gitlab_local.unavailable():
        pytest.skip(reason)
    return gitlab_local.run_jobs(RUN_HERE)


@pytest.mark.images
@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("job", RUN_HERE)
def test_job_passes_in_its_image(job: str, local_run: gitlab_local.LocalRun) -> None:
    print(f"{job} ran in {local_run.images[job]}; the run took {local_run.seconds:.0f} s ({local_run.log})")
    assert local_run.status.get(job) == "PASS", local_run.log_tail()


@pytest.mark.images
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_unit_job_skips_nothing(local_run: gitlab_local.LocalRun) -> None:
    report = local_run.artifact("chart-and-unit-tests", UNIT_REPORT)
    assert report.is_file(), f"no {UNIT_REPORT} artifact:\n{local_run.log_tail()}"
    suite = ET.parse(report).getroot()  # noqa: S314 (the report of our own job)
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    skipped = [
        f"{case.get('classname')}::{case.get('name')}: {skip.get('message')}"
        for case in suite.iter("testcase")
        if (skip := case.find("skipped")) is not None
    ]
    assert skipped == [], "tests/unit skipped in the unit job:\n" + "\n".join(skipped)
    assert counts["failures"] == counts["errors"] == 0, local_run.log_tail()
    assert counts["tests"] > 100, counts
