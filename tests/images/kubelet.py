"""A pod's volumes as the kubelet prepares them, with or without the pod's fsGroup, for the image tests.

OpenShift's restricted-v2 SCC always assigns an fsGroup. The kubelet then applies it to every volume
(SetVolumeOwnership in kubernetes pkg/volume/volume_linux.go): every file and directory gets group
fsGroup, files mode |= 0660 (0440 on read-only volumes such as Secrets), directories |= 0770 plus setgid.
An emptyDir starts at 0777 (so 2777); a PVC's existing content is changed again, recursively, at every
pod start (fsGroupChangePolicy Always, the default; OnRootMismatch skips it once the root matches). The
containers run with their UID, GID 0 and the fsGroup as a supplemental group.

    pod = Kubelet(sandbox, FS_GROUP).start_pod(
        "sftp-1", pvcs={"data": "/data"}, empty_dirs={"tmp": "/tmp"}, secrets={host_keys: "/etc/keys"}
    )
    sandbox.run("sftp", **pod.run_options("/data", "/tmp"))   # mounts + --group-add
    pod.sub_path("/data", "dvc", "/data/dvc")                # a volumeMount with subPath: dvc

A `subPath` mount is the kubelet's too (makeMounts in kubelet_pods.go): a missing subdirectory is made
by root with the volume root's mode, setgid included (so with an fsGroup it inherits the root's group),
then bind-mounted; here Docker bind-mounts it from the volume's directory on the engine's host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from docker.types import Mount
from tests.support.containers import Sandbox, image_ref

# OpenShift gives a namespace's pods the first GID of its supplemental-groups range as fsGroup.
FS_GROUP = 1000680000
# Parametrise a test over `fs_group` with these (ids: fsGroup-unset, fsGroup-set).
FS_GROUPS = [None, FS_GROUP]
FS_GROUP_IDS = ["fsGroup-unset", "fsGroup-set"]

ChangePolicy = Literal["Always", "OnRootMismatch"]

# Run as root in a helper container; $G is the fsGroup. Each argument is "kind:path".
_KUBELET_SCRIPT = r"""
set -eu
set_ownership() {  # SetVolumeOwnership: group fsGroup, files |= 0660 (0440 read-only), dirs |= 2770
  local files=ug+rw dirs=ug+rwx,g+s
  [ "$2" = ro ] && files=ug+r dirs=ug+rx,g+s
  find "$1" -exec chgrp -h "$G" {} +
  find "$1" -type f -exec chmod "$files" {} +
  find "$1" -type d -exec chmod "$dirs" {} +
}
root_matches() {  # OnRootMismatch: the root has the fsGroup, setgid and ug=rwx already
  [ "$(stat -c %g "$1")" = "$G" ] && [ $((8#$(stat -c %a "$1") & 8#2770)) -eq $((8#2770)) ]
}
for arg in "$@"; do
  kind=${arg%%:*} path=${arg#*:}
  case $kind in
    emptyDir) chown 0:0 "$path"; chmod 0777 "$path"; [ -z "$G" ] || set_ownership "$path" rw ;;
    newPVC) chown 0:0 "$path"; chmod 0755 "$path"; [ -z "$G" ] || set_ownership "$path" rw ;;
    Always) [ -z "$G" ] || set_ownership "$path" rw ;;
    OnRootMismatch) [ -z "$G" ] || root_matches "$path" || set_ownership "$path" rw ;;
    secret) find "$path" -type f -exec chown "0:${G:-0}" {} + -exec chmod 0440 {} + ;;
    subPath=*) sub=${kind#subPath=}  # mkdir in a setgid directory inherits its group; chmod keeps setgid
      [ -e "$path/$sub" ] || { mkdir "$path/$sub"; chmod "$(stat -c %a "$path")" "$path/$sub"; } ;;
  esac
done
"""


@dataclass(frozen=True)
class PodVolumes:
    """The volumes of one pod by mount path, and its fsGroup."""

    mounts: Mapping[str, Mount]
    fs_group: int | None
    kubelet: Kubelet | None = None

    def __contains__(self, target: str) -> bool:
        return target in self.mounts

    def sub_path(self, volume_target: str, sub_path: str, target: str, read_only: bool = False) -> Mount:
        """The Mount of `sub_path` of the volume mounted at `volume_target`, made as the kubelet makes it."""
        assert self.kubelet is not None, "PodVolumes made by Kubelet.start_pod"
        volume = self.mounts[volume_target]["Source"]
        self.kubelet._run_as_root(f"subpath-{volume}", [(f"subPath={sub_path}", self.mounts[volume_target])])
        root = self.kubelet.sandbox.client.volumes.get(volume).attrs["Mountpoint"]
        return Mount(target, f"{root}/{sub_path}", type="bind", read_only=read_only)

    def run_options(self, *targets: str, tmpfs: Mapping[str, str] | None = None) -> dict[str, Any]:
        """`Sandbox.run` keywords: these mounts (all of them when none is named), the fsGroup, and the
        `tmpfs` entries for the paths none of the chosen mounts covers."""
        chosen = targets or tuple(self.mounts)
        return {
            "mounts": [self.mounts[t] for t in chosen],
            "group_add": [] if self.fs_group is None else [self.fs_group],
            "tmpfs": {path: options for path, options in (tmpfs or {}).items() if path not in chosen},
        }


@dataclass
class Kubelet:
    """Prepares each pod's volumes in a root helper container before the pod's containers run.

    A PVC (a named volume, kept across pods) is new at its first pod: root:root 0755 as a provisioner
    hands it out, then the fsGroup rule. Without an fsGroup a new PVC is left to Docker, which copies
    the image's directory into it (owner 1001, group 0, 0770: the group-0 access the images expect).
    """

    sandbox: Sandbox
    fs_group: int | None
    change_policy: ChangePolicy = "Always"
    _pvcs_seen: set[str] = field(default_factory=set)

    def start_pod(
        self,
        pod: str,
        pvcs: Mapping[str, str] | None = None,
        empty_dirs: Mapping[str, str] | None = None,
        secrets: Mapping[Path, str] | None = None,
    ) -> PodVolumes:
        """`pvcs`: volume suffix -> mount path; `empty_dirs`: suffix -> path (new for this pod);
        `secrets`: host folder -> path, read-only, files root-owned 0440 (the chart's defaultMode)."""
        mounts: dict[str, Mount] = {}
        steps: list[tuple[str, Mount]] = []
        for suffix, target in (pvcs or {}).items():
            volume = self.sandbox.volume(suffix)
            new = volume not in self._pvcs_seen
            self._pvcs_seen.add(volume)
            kubelet_owned = not new or self.fs_group is not None
            mounts[target] = Mount(target, volume, type="volume", no_copy=kubelet_owned)
            steps.append(("newPVC" if new else self.change_policy, mounts[target]))
        for suffix, target in (empty_dirs or {}).items():
            mounts[target] = Mount(
                target, self.sandbox.volume(f"{pod}-{suffix}"), type="volume", no_copy=True
            )
            steps.append(("emptyDir", mounts[target]))
        for folder, target in (secrets or {}).items():
            mounts[target] = Mount(target, str(folder), type="bind", read_only=True)
            steps.append(("secret", mounts[target]))
        if self.fs_group is None:  # only emptyDirs and Secrets get modes of their own
            steps = [(kind, m) for kind, m in steps if kind in ("emptyDir", "secret")]
        self._run_as_root(pod, steps)
        return PodVolumes(mounts, self.fs_group, self)

    def _run_as_root(self, pod: str, steps: list[tuple[str, Mount]]) -> None:
        if not steps:
            return
        helper_mounts = [
            Mount(f"/kubelet/{i}", m["Source"], type=m["Type"], no_copy=m["Type"] == "volume")
            for i, (_, m) in enumerate(steps)
        ]
        self.sandbox.client.containers.run(
            image_ref("sftp"),
            entrypoint=["bash", "-c", _KUBELET_SCRIPT, "kubelet"],
            command=[f"{kind}:/kubelet/{i}" for i, (kind, _) in enumerate(steps)],
            user="0:0",
            environment={"G": "" if self.fs_group is None else str(self.fs_group)},
            mounts=helper_mounts,
            name=f"{self.sandbox.prefix}kubelet-{pod}",
            labels={"mlops-stack.test": self.sandbox.prefix},
            network_mode="none",
            remove=True,
        )


def pod_run_options(
    sandbox: Sandbox,
    kubelet: Kubelet | None,
    pod: str,
    tmpfs: Mapping[str, str],
    secrets: Mapping[str, str],
    pvcs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`Sandbox.run` keywords for one pod. With `kubelet`: each `tmpfs` path an emptyDir, the `secrets`
    (host folder -> path) and `pvcs` (volume suffix -> path) as it prepares them. Without: Docker's own,
    a tmpfs, read-only bind mounts, named volumes (the image's directory copied in)."""
    if kubelet is None:
        volumes = {sandbox.volume(suffix): target for suffix, target in (pvcs or {}).items()}
        return {"tmpfs": tmpfs, "volumes": {**volumes, **secrets}, "read_only_mounts": list(secrets.values())}
    empty_dirs = {Path(path).name: path for path in tmpfs}
    folders = {Path(folder): target for folder, target in secrets.items()}
    return kubelet.start_pod(pod, pvcs=pvcs, empty_dirs=empty_dirs, secrets=folders).run_options()
