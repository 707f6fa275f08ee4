"""Pod and container securityContext as what the container runtime enforces (typed, engine-free).

Where the manifest sets no user, the runner does what OpenShift's restricted-v2 SCC does: it picks an
arbitrary high UID from the namespace range (1000680000) with primary group 0, so images are tested the way
OpenShift will run them. Likewise for the fsGroup: restricted-v2's fsGroup strategy is MustRunAs, so every
pod that sets none gets the first GID of the namespace's supplemental-groups range (1000680000 here, the
same block as the UID range). The kubelet then gives every volume to that group (see volumes.py) and the
containers get it as a supplementary group. A pod that sets fsGroup keeps its own.
"""

from dataclasses import dataclass

from mlops_stack.localrun.errors import LocalRunError

OPENSHIFT_STYLE_UID = 1000680000
OPENSHIFT_STYLE_GID = 0
# restricted-v2: fsGroup MustRunAs, defaulting to the first value of openshift.io/sa.scc.supplemental-groups.
OPENSHIFT_STYLE_FS_GROUP = 1000680000
FS_GROUP_CHANGE_POLICIES = ("Always", "OnRootMismatch")


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    groups: tuple[int, ...]


def identity(pod_sc: dict, container_sc: dict, where: str) -> Identity:
    """Container fields win over pod fields, as in Kubernetes; runAsNonRoot is checked like the kubelet."""
    uid = container_sc.get("runAsUser", pod_sc.get("runAsUser", OPENSHIFT_STYLE_UID))
    gid = container_sc.get("runAsGroup", pod_sc.get("runAsGroup", OPENSHIFT_STYLE_GID))
    non_root = container_sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False))
    if non_root and int(uid) == 0:
        raise LocalRunError(f"{where}: runAsNonRoot is true but runAsUser is 0; the kubelet refuses this too")
    # The kubelet puts the fsGroup first, then the pod's supplementalGroups (kuberuntime security context).
    groups = [fs_group(pod_sc)] + [int(g) for g in pod_sc.get("supplementalGroups") or []]
    return Identity(int(uid), int(gid), tuple(groups))


def fs_group(pod_sc: dict) -> int:
    """The pod's fsGroup: its own, else the one restricted-v2 assigns (OPENSHIFT_STYLE_FS_GROUP)."""
    return int(pod_sc.get("fsGroup", OPENSHIFT_STYLE_FS_GROUP))


def fs_group_change_policy(pod_sc: dict) -> str:
    """fsGroupChangePolicy, Always by default (admission.py refuses other values)."""
    return str(pod_sc.get("fsGroupChangePolicy", "Always"))


@dataclass(frozen=True)
class ContainerSecurity:
    """A container's securityContext, pod fields merged in, as the runtime enforces it."""

    user: str  # "uid:gid"
    groups: tuple[int, ...]  # supplementary groups: the fsGroup first, then supplementalGroups
    read_only_root: bool = False
    cap_drop: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    no_new_privileges: bool = False  # allowPrivilegeEscalation: false
    seccomp_unconfined: bool = False  # else the runtime's default profile (RuntimeDefault)


def container_security(pod_sc: dict, container_sc: dict, where: str) -> ContainerSecurity:
    """The container's security, container fields winning over the pod's."""
    who = identity(pod_sc, container_sc, where)
    capabilities = container_sc.get("capabilities") or {}
    seccomp = container_sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
    return ContainerSecurity(
        user=f"{who.uid}:{who.gid}",
        groups=who.groups,
        read_only_root=bool(container_sc.get("readOnlyRootFilesystem")),
        cap_drop=tuple(str(c) for c in capabilities.get("drop") or []),
        cap_add=tuple(str(c) for c in capabilities.get("add") or []),
        no_new_privileges=container_sc.get("allowPrivilegeEscalation") is False,
        seccomp_unconfined=seccomp.get("type") == "Unconfined",
    )
