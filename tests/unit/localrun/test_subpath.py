"""`volumeMounts[].subPath` as the kubelet makes it: a missing directory made by root with the volume root's
mode when the container starts (under an fsGroup, setgid: the root's group too), one made earlier (by an
init container) kept as it is, a symlink refused, `readOnly` honoured."""

import docker
import pytest

from mlops_stack.localrun import subpaths
from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.plan import Mount
from mlops_stack.localrun.runner import Runner

from .conftest import logs
from .manifests import claim, container, job

G = 2000
UID = 1234
POD_SC = {"securityContext": {"runAsUser": UID, "fsGroup": G}}
CLAIM = {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
SCRATCH = {"name": "scratch", "emptyDir": {}}


def test_the_script_makes_each_missing_component_with_the_roots_mode_and_refuses_symlinks() -> None:
    plan = type("Plan", (), {"mounts": (Mount("/s", "v", False, "a/b"), Mount("/w", "v", False, ""))})
    assert subpaths.volumes_with_sub_paths(plan) == ["v"]
    assert subpaths.script(plan, "Job/j pod j container c").splitlines() == [
        "set -eu",
        'p=/subpath/v; for part in a b; do p="$p/$part"; if [ -L "$p" ]; then echo '
        "'Job/j pod j container c: "
        "subPath '\"'\"'a/b'\"'\"' of volume v: '\"${p#/subpath/v/} is a symlink\" >&2; exit 3; fi; "
        '[ -e "$p" ] || { mkdir "$p" && chmod "$(stat -c %a /subpath/v)" "$p"; }; done',
    ]


@pytest.mark.images
def test_a_missing_sub_path_is_made_with_the_roots_mode_and_group(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    mounts = [
        {"name": "data", "mountPath": "/store", "subPath": "stores/dvc"},
        {"name": "data", "mountPath": "/data", "readOnly": True},
    ]
    script = (
        "echo obj > /store/o && stat -c '%a %u %g %n' /data /data/stores /data/stores/dvc /data/stores/dvc/o"
    )
    runner.up(
        [
            claim("data"),
            job("use", [container("main", toolbox, script, volumeMounts=mounts)], [CLAIM], pod=POD_SC),
        ]
    )
    assert logs(docker_client, f"{runner.engine.project}-use-main").splitlines() == [
        f"2775 0 {G} /data",  # a new claim, then the fsGroup
        f"2775 0 {G} /data/stores",  # root's, with the root's mode (setgid: the root's group)
        f"2775 0 {G} /data/stores/dvc",
        f"644 {UID} {G} /data/stores/dvc/o",  # the container's umask 022
    ]


@pytest.mark.images
def test_a_sub_path_an_init_container_made_is_kept_as_it_made_it(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    init = container(
        "init",
        toolbox,
        "mkdir -m 0750 /scratch/mine",
        volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}],
    )
    main = container(
        "main",
        toolbox,
        "stat -c '%a %u %g' /mine && touch /ro/x",
        volumeMounts=[
            {"name": "scratch", "mountPath": "/mine", "subPath": "mine"},
            {"name": "scratch", "mountPath": "/ro", "subPath": "mine", "readOnly": True},
        ],
    )
    with pytest.raises(LocalRunError):  # `touch /ro/x` fails: the Job fails
        runner.up([job("use", [main], [SCRATCH], pod={**POD_SC, "initContainers": [init]})])
    # stdout and stderr apart: the engine reads them from two pipes, so their interleaving is not kept
    main_container = docker_client.containers.get(f"{runner.engine.project}-use-main")
    stdout = main_container.logs(stdout=True, stderr=False).decode()
    stderr = main_container.logs(stdout=False, stderr=True).decode()
    assert (
        stdout == f"2750 {UID} {G}\n"
    )  # made by the init container; mkdir in a setgid emptyDir keeps setgid
    assert stderr == "touch: cannot touch '/ro/x': Read-only file system\n"


@pytest.mark.images
def test_a_sub_path_through_a_symlink_is_refused(runner: Runner, toolbox: str) -> None:
    init = container(
        "init",
        toolbox,
        "ln -s /etc /scratch/escape",
        volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}],
    )
    main = container(
        "main", toolbox, "true", volumeMounts=[{"name": "scratch", "mountPath": "/e", "subPath": "escape/x"}]
    )
    with pytest.raises(LocalRunError) as refused:
        runner.up([job("use", [main], [SCRATCH], pod={**POD_SC, "initContainers": [init]})])
    assert str(refused.value).splitlines()[-1] == (
        "    | Job/use pod use container main: subPath 'escape/x' of volume "
        f"{runner.engine.project}-use-scratch: escape is a symlink"
    )
