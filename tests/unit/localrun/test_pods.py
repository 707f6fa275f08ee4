"""A pod's environment, files and security on the real engine, read back from inside the container."""

import docker
import pytest

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.runner import Runner

from .conftest import logs
from .manifests import configmap, container, job, secret

pytestmark = pytest.mark.images

PROBE_SCRIPT = (
    "echo A=$A B=$B GREETING=$(C_GREETING) ARG=$1; id; "
    "stat -c '%a %u %g %n' /etc/s/* /etc/s/sub/* /mem /scratch; "
    "cat /etc/s/pw; echo; grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; "
    "touch /x 2>/dev/null || echo rootfs-not-writable; "
    "echo hi > /scratch/y && echo > /mem/z && echo volumes-writable"
)


def pod_job(image: str, pod_security: dict | None = None, container_security: dict | None = None) -> dict:
    main = container(
        "main",
        image,
        PROBE_SCRIPT + "; exit 0",
        args=None,
        env=[
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
            {"name": "B", "value": "$(A)-suffix $$(A)"},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        envFrom=[{"configMapRef": {"name": "c"}, "prefix": "C_"}],
        volumeMounts=[
            {"name": "sec", "mountPath": "/etc/s"},
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "mem", "mountPath": "/mem"},
        ],
        securityContext=container_security or {},
        resources={
            "limits": {"memory": "64Mi", "cpu": "500m"},
            "requests": {"memory": "32Mi", "cpu": "250m"},
        },
    )
    main["command"] = ["/bin/sh", "-c", PROBE_SCRIPT, "sh", "$(NAME)"]
    del main["args"]
    volumes = [
        {
            "name": "sec",
            "secret": {
                "secretName": "s",
                "defaultMode": 0o400,
                "items": [
                    {"key": "password", "path": "pw", "mode": 0o440},
                    {"key": "other", "path": "sub/other"},
                ],
            },
        },
        {"name": "scratch", "emptyDir": {}},
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
    ]
    return job("probe", [main], volumes, pod={"securityContext": pod_security or {}})


def data(image: str, **kwargs: dict) -> list[dict]:
    return [
        secret("s", password="p@ss", other="x"),
        configmap("c", GREETING="hello"),
        pod_job(image, **kwargs),
    ]


def test_env_files_and_openshift_style_user_and_fs_group(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    """No runAsUser or fsGroup set: restricted-v2 gives UID 1000680000, group 0 and fsGroup 1000680000."""
    runner.up(
        data(
            toolbox,
            container_security={
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        )
    )
    out = logs(docker_client, f"{runner.engine.project}-probe-main").splitlines()
    assert out[0] == "A=p@ss B=p@ss-suffix $(A) GREETING=hello ARG=probe"
    assert out[1] == "uid=1000680000 gid=0(root) groups=0(root),1000680000"
    # The kubelet gives every volume to the fsGroup: read-only files |= 0440, directories |= 2550 (Secret)
    # or 2770 (emptyDir); a Memory emptyDir is a tmpfs of 1777, so 3777.
    assert out[2:6] == [
        "440 0 1000680000 /etc/s/pw",  # item mode 0440 wins over defaultMode
        "2755 0 1000680000 /etc/s/sub",
        "440 0 1000680000 /etc/s/sub/other",  # defaultMode 0400 | 0440
        "3777 0 1000680000 /mem",
    ]
    assert out[6] == "2777 0 1000680000 /scratch"
    assert out[7] == "p@ss"
    assert out[8:] == [
        "CapBnd:\t0000000000000000",
        "NoNewPrivs:\t1",
        "rootfs-not-writable",
        "volumes-writable",
    ]
    host = docker_client.containers.get(f"{runner.engine.project}-probe-main").attrs["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["MemoryReservation"], host["CpuShares"]) == (
        64 * 2**20,
        500_000_000,
        32 * 2**20,
        256,
    )
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]


def test_explicit_fsgroup_owns_volumes_and_is_a_supplementary_group(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    runner.up(data(toolbox, pod_security={"runAsUser": 1234, "fsGroup": 2000}))
    out = logs(docker_client, f"{runner.engine.project}-probe-main").splitlines()
    assert out[1] == "uid=1234 gid=0(root) groups=0(root),2000"
    assert out[2:7] == [
        "440 0 2000 /etc/s/pw",
        "2755 0 2000 /etc/s/sub",
        "440 0 2000 /etc/s/sub/other",
        "3777 0 2000 /mem",
        "2777 0 2000 /scratch",
    ]
    # Without these flags the container keeps Docker's defaults (as Kubernetes keeps the runtime's).
    assert out[8] == "CapBnd:\t00000000a80425fb"
    assert out[9:] == [
        "NoNewPrivs:\t0",
        "rootfs-not-writable",
        "volumes-writable",
    ]  # root-owned /, not read-only


def test_run_as_root_with_run_as_non_root_is_refused_like_the_kubelet(runner: Runner, toolbox: str) -> None:
    with pytest.raises(LocalRunError, match="runAsNonRoot is true but runAsUser is 0"):
        runner.up(data(toolbox, pod_security={"runAsUser": 0, "runAsNonRoot": True}))


def test_missing_secret_key_names_the_key(runner: Runner, toolbox: str) -> None:
    docs = data(toolbox)
    docs[0] = secret("s", other="x")
    with pytest.raises(LocalRunError) as caught:
        runner.up(docs)
    assert "Secret 's' has no key 'password' (it has ['other'])" in str(caught.value)


def test_missing_image_says_how_to_build_it(runner: Runner) -> None:
    with pytest.raises(LocalRunError) as caught:
        runner.up([job("j", [container("main", "runner-test/absent:0", "true")])])
    assert "image 'runner-test/absent:0' is not on the local engine; build it (`make images`)" in str(
        caught.value
    )
