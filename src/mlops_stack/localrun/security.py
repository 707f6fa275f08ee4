"""Pod and container securityContext and resources as Docker options.

Where the manifest sets no user, the runner does what OpenShift's restricted-v2 SCC does: it picks an
arbitrary high UID from the namespace range (1000680000) with primary group 0, so images are tested the way
OpenShift will run them. Likewise for the fsGroup: restricted-v2's fsGroup strategy is MustRunAs, so every
pod that sets none gets the first GID of the namespace's supplemental-groups range (1000680000 here, the
same block as the UID range). The kubelet then gives every volume to that group (see volumes.py) and the
containers get it as a supplementary group. A pod that sets fsGroup keeps its own.
"""

from dataclasses import dataclass

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.quantities import cpu_shares, memory_bytes, nano_cpus

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


def docker_options(pod_sc: dict, container: dict, where: str) -> dict:
    """Keyword arguments for `containers.create` enforcing the container's securityContext and resources."""
    sc = container.get("securityContext") or {}
    who = identity(pod_sc, sc, where)
    options: dict = {"user": f"{who.uid}:{who.gid}"}
    if who.groups:
        options["group_add"] = [str(g) for g in who.groups]
    if sc.get("readOnlyRootFilesystem"):
        options["read_only"] = True
    capabilities = sc.get("capabilities") or {}
    if capabilities.get("drop"):
        options["cap_drop"] = [str(c) for c in capabilities["drop"]]
    if capabilities.get("add"):
        options["cap_add"] = [str(c) for c in capabilities["add"]]
    security_opt = []
    if sc.get("allowPrivilegeEscalation") is False:
        security_opt.append("no-new-privileges:true")
    seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
    if seccomp.get("type") == "Unconfined":
        security_opt.append("seccomp=unconfined")
    if security_opt:
        options["security_opt"] = security_opt
    options.update(_resources(container.get("resources") or {}, where))
    return options


def _resources(resources: dict, where: str) -> dict:
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    options: dict = {}
    if "memory" in limits:
        options["mem_limit"] = memory_bytes(limits["memory"], f"{where}.resources.limits.memory")
        # Without a swap limit Docker lets the container swap as much again; the kubelet gives no swap.
        options["memswap_limit"] = options["mem_limit"]
    if "cpu" in limits:
        options["nano_cpus"] = nano_cpus(limits["cpu"], f"{where}.resources.limits.cpu")
    if "memory" in requests:
        options["mem_reservation"] = memory_bytes(requests["memory"], f"{where}.resources.requests.memory")
    if "cpu" in requests:
        options["cpu_shares"] = cpu_shares(requests["cpu"], f"{where}.resources.requests.cpu")
    return options
