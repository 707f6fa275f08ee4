"""Fixtures for the local runner's tests: a toolbox image and a runner whose objects are removed after."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from mlops_stack.localrun.runner import Runner

HERE = Path(__file__).parent
REPO_ROOT = HERE.parents[2]
TOOLBOX = "runner-test/toolbox:1"


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker.from_env()


@pytest.fixture(scope="session")
def toolbox(docker_client: docker.DockerClient) -> str:
    """Built once from the project's pinned base image (cached by the engine afterwards)."""
    base = (REPO_ROOT / "images" / "base-image").read_text().strip()
    docker_client.images.build(
        path=str(HERE / "toolbox"), tag=TOOLBOX, buildargs={"BASE_IMAGE": base}, rm=True
    )
    return TOOLBOX


@pytest.fixture
def runner(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Runner]:
    project = f"runner-test-{uuid.uuid4().hex[:6]}"
    lines: list[str] = []
    runner = Runner(project, tmp_path / "state", timeout=60, report=lines.append)
    runner.lines = lines  # type: ignore[attr-defined]
    yield runner
    runner.clean()


def logs(client: docker.DockerClient, name: str) -> str:
    return client.containers.get(name).logs().decode()


def volume_file(client: docker.DockerClient, image: str, volume: str, path: str) -> str:
    """Read a file from a named volume with a throw-away container."""
    output = client.containers.run(
        image, ["cat", f"/v/{path}"], remove=True, volumes={volume: {"bind": "/v", "mode": "ro"}}, user="0"
    )
    return output.decode()
