"""fsGroup as the kubelet applies it (pkg/volume/volume_linux.go) and as OpenShift's restricted-v2 assigns it.

The plan tests need no engine; the others read the result back from inside containers, because what a
process sees (setgid inherited by `mkdir`, `chmod` keeping it) is the engine's and the kernel's doing.
"""

import docker
import pytest

from mlops_stack.localrun import admission, security, volumes
from mlops_stack.localrun.errors import Refused
from mlops_stack.localrun.manifests import build_release
from mlops_stack.localrun.pod_engine import security_options
from mlops_stack.localrun.runner import Runner

from .conftest import logs
from .manifests import claim, container, job, secret

G = 2000

VOLUMES = [
    {"name": "scratch", "emptyDir": {}},
    {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
    {"name": "limited", "emptyDir": {"sizeLimit": "8Mi"}},
    {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}},
    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
    {"name": "frozen", "persistentVolumeClaim": {"claimName": "frozen", "readOnly": True}},
]


def plans() -> dict[str, volumes.VolumePlan]:
    release = build_release([secret("s", key="k")])
    return {p.name: p for p in volumes.plan(VOLUMES, release, "pod", lambda c: f"p-{c}", "Pod/p")}


# ---- plans (no engine)


def test_restricted_v2_gives_pods_without_one_the_fs_group_1000680000() -> None:
    assert security.fs_group({}) == security.OPENSHIFT_STYLE_FS_GROUP == 1000680000
    assert security.identity({}, {}, "c").groups == (1000680000,)
    assert security_options(security.container_security({}, {}, "c"))["group_add"] == ["1000680000"]
    # The pod's own fsGroup wins, and comes before its supplementalGroups (as the kubelet orders them).
    explicit = {"fsGroup": G, "supplementalGroups": [5, 6]}
    assert security.fs_group(explicit) == G
    assert security.identity(explicit, {}, "c").groups == (G, 5, 6)
    assert security.fs_group_change_policy({}) == "Always"


def test_change_file_permission_adds_the_masks_and_keeps_every_other_bit() -> None:
    rw, ro = volumes.Ownership(G, read_only=False), volumes.Ownership(G, read_only=True)
    assert [rw.mode(0o600, directory=False), rw.mode(0o700, directory=True)] == [0o660, 0o2770]
    assert [ro.mode(0o400, directory=False), ro.mode(0o755, directory=True)] == [0o440, 0o2755]
    assert [rw.mode(0o4700, directory=False), rw.mode(0o1777, directory=True)] == [0o4760, 0o3777]
    assert [rw.mode(0o000, directory=True), rw.mode(0o644, directory=False)] == [0o2770, 0o664]


def test_each_volume_kind_is_set_up_as_the_kubelet_does_without_and_with_an_fs_group() -> None:
    by_name = plans()
    roots = {
        name: (by_name[name].setup(None).root, by_name[name].setup(G).root)
        for name in ("scratch", "mem", "limited", "sec")
    }
    assert roots == {
        "scratch": ((0o777, 0), (0o2777, G)),  # emptydir setupDir 0777
        "mem": ((0o1777, 0), (0o3777, G)),  # tmpfs mounted without mode=: the kernel's 1777
        "limited": ((0o777, 0), (0o2777, G)),  # a disk emptyDir (a tmpfs here only for its size)
        "sec": ((0o1777, 0), (0o3777, G)),  # the Memory emptyDir the Secret plugin wraps
    }
    assert by_name["sec"].setup(G).ownership == volumes.Ownership(G, read_only=True)
    assert by_name["scratch"].setup(None).ownership is None
    assert by_name["mem"].tmpfs_options(G) == "mode=3777,uid=0,gid=2000,size=1048576"
    assert by_name["limited"].tmpfs_options(None) == "mode=0777,uid=0,gid=0,size=8388608"

    data = by_name["data"]
    assert data.setup(None, new_claim=True).root == (0o2775, 0)  # the runner's new claim, as before
    assert data.setup(G, new_claim=True).root == (0o2775, G)
    assert data.setup(G).root is None  # an existing claim keeps its root, then gets the walk again:
    assert data.setup(G).ownership == volumes.Ownership(G, read_only=False, on_root_mismatch=False)
    assert data.setup(G, "OnRootMismatch").ownership == volumes.Ownership(G, False, on_root_mismatch=True)
    assert data.setup(None).script("/prep/data") == []
    # A read-only claim is not changed (the CSI mounter's supportsFSGroup skips read-only volumes).
    assert by_name["frozen"].setup(G).ownership is None


def test_fs_group_change_policy_is_honoured_or_refused_by_name() -> None:
    def pod(policy: str) -> dict:
        main = container("c", "toolbox", "true")
        return job("j", [main], pod={"securityContext": {"fsGroup": G, "fsGroupChangePolicy": policy}})

    assert admission.check(build_release([pod("OnRootMismatch"), pod("Always")])) == []
    with pytest.raises(Refused) as caught:
        admission.check(build_release([pod("Sometimes")]))
    assert caught.value.reasons == [
        "Job/j.spec.template.spec.securityContext.fsGroupChangePolicy: only Always or OnRootMismatch"
    ]


# ---- on the engine

# What run-sftp did to its key directory (issue 15): a private directory, then "locked" to mode 000.
LOCK = "for d in /mem /scratch; do mkdir -m 700 $d/keys && chmod 000 $d/keys && stat -c '%a %g' $d/keys; done"


@pytest.mark.images
def test_a_directory_made_in_an_empty_dir_inherits_setgid_as_on_openshift(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    """No fsGroup in the manifest: the default one makes emptyDirs setgid, and GNU chmod keeps the bit."""
    mounts = [{"name": "mem", "mountPath": "/mem"}, {"name": "scratch", "mountPath": "/scratch"}]
    main = container("main", toolbox, f"id -G; {LOCK}", volumeMounts=mounts)
    runner.up([job("lock", [main], VOLUMES[:2])])
    assert logs(docker_client, f"{runner.engine.project}-lock-main").splitlines() == [
        "0 1000680000",
        "2000 1000680000",
        "2000 1000680000",
    ]


def claim_job(toolbox: str, script: str, fs_group: int, policy: str = "Always") -> list[dict]:
    main = container("main", toolbox, script, volumeMounts=[{"name": "data", "mountPath": "/data"}])
    pod_sc = {"runAsUser": 1234, "fsGroup": fs_group, "fsGroupChangePolicy": policy}
    return [claim("data"), job("use", [main], [VOLUMES[4]], pod={"securityContext": pod_sc})]


STAT = "cd /data && stat -c '%a %u %g %n' . private private/* suid && stat -c '%g %n' link"


@pytest.mark.images
def test_a_claim_is_given_to_the_fs_group_again_at_every_pod_start(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    def run(script: str, fs_group: int, policy: str = "Always") -> list[str]:
        runner.up(claim_job(toolbox, script, fs_group, policy))
        return logs(docker_client, f"{runner.engine.project}-use-main").splitlines()

    write = "cd /data && umask 077 && mkdir private && echo x > private/f && cp private/f suid"
    first = run(f"{write} && chmod 4700 suid && ln -s private/f link && id -G && {STAT}", G)
    assert first == [
        "0 2000",
        "2775 0 2000 .",  # a new claim
        "2700 1234 2000 private",  # made after the walk: setgid and group inherited, umask kept
        "600 1234 2000 private/f",
        "4700 1234 2000 suid",
        "2000 link",
    ]
    # The next pod start walks the claim again: existing files become group-writable (setuid kept).
    assert run(STAT, G) == [
        "2775 0 2000 .",
        "2770 1234 2000 private",
        "660 1234 2000 private/f",
        "4760 1234 2000 suid",
        "2000 link",
    ]
    # OnRootMismatch: the root's group differs, so the walk runs and every file changes group.
    assert run(f"umask 077 && echo y > /data/private/g && {STAT}", 3000, "OnRootMismatch") == [
        "2775 0 3000 .",
        "2770 1234 3000 private",
        "660 1234 3000 private/f",
        "600 1234 3000 private/g",
        "4760 1234 3000 suid",
        "3000 link",
    ]
    # Now the root matches (group 3000, setgid, ug=rwx): the walk is skipped and g stays 0600.
    assert run(STAT, 3000, "OnRootMismatch")[3] == "600 1234 3000 private/g"
    # Always walks again.
    assert run(STAT, 3000)[3] == "660 1234 3000 private/g"
