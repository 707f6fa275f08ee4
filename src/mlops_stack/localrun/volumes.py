"""Pod volumes as Docker named volumes, set up the way the kubelet sets them up.

- persistentVolumeClaim -> a named volume that outlives the pod (`down` keeps it, `clean` removes it).
  A new claim's root is 2775 root:root: the runner stands in for the provisioner there, and group 0
  writable is what images built for OpenShift (arbitrary UID, group 0) need on a claim with no fsGroup.
- emptyDir -> a volume that lives as long as the pod. On disk its root is 0777 root:root (the kubelet's
  setupDir). `medium: Memory` is a tmpfs, and the kubelet mounts it without a `mode=`, so its root has the
  kernel's tmpfs default 1777. A disk emptyDir with a `sizeLimit` is a tmpfs here too (the limit becomes
  the tmpfs size) but keeps the disk emptyDir's 0777.
- secret / configMap -> the selected keys as files (items, defaultMode, mode), root:root, in directories
  of 0755 (the kubelet's atomic writer) under a root of 1777 (the Memory emptyDir the kubelet wraps),
  mounted read-only. (The kubelet uses tmpfs for them; a tmpfs Docker volume loses its content when no
  container holds it, so here they are on disk and removed with the pod.)

fsGroup (SetVolumeOwnership and changeFilePermission in kubernetes pkg/volume/volume_linux.go): every file,
directory and symlink of the volume gets group fsGroup (owners are kept); files get mode |= 0660 and
directories |= 0770 plus setgid, so that what the pod creates inherits the group; on read-only volumes
(Secret, ConfigMap) 0440 and 0550 plus setgid. Symlinks keep their mode. So an emptyDir becomes 2777
(Memory: 3777) and a Secret's root 3777, group fsGroup. emptyDir, Secret and ConfigMap get it at every
set-up; a PVC at every pod start, recursively over what it holds (fsGroupChangePolicy Always, the
default), or not at all when its root already has group fsGroup, setgid and ug=rwx (OnRootMismatch,
requiresPermissionChange). A claim mounted with `readOnly` is not changed (the CSI mounter's
supportsFSGroup skips read-only volumes).

Every mount uses `nocopy`: like a Kubernetes volume, it hides what the image has at that path.
"""

import io
import shlex
import tarfile
import time
from dataclasses import dataclass, field

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.manifests import Release
from mlops_stack.localrun.quantities import memory_bytes

DEFAULT_FILE_MODE = 0o644
EMPTY_DIR_MODE = 0o777  # emptydir's defaultPerm
TMPFS_ROOT_MODE = 0o1777  # tmpfs mounted without mode=: Memory emptyDirs, the root of Secrets and ConfigMaps
NEW_CLAIM_MODE = 0o2775
PAYLOAD_DIR_MODE = 0o755  # the atomic writer's directories (MkdirAll under the kubelet's umask 022)
# volume_linux.go: rwMask, roMask, execMask (directories), and os.ModeSetgid on directories.
RW_MASK, RO_MASK, EXEC_MASK, SETGID = 0o660, 0o440, 0o110, 0o2000
_SETID = r"\( -perm -4000 -o -perm -2000 \)"


def _symbolic(bits: int) -> str:
    """The chmod argument that adds `bits` (0o2770 -> 'u+rwx,g+rwxs'); symbolic, so no umask applies."""
    parts = []
    for who, shift in (("u", 6), ("g", 3), ("o", 0)):
        perms = "".join(letter for letter, bit in zip("rwx", (4, 2, 1), strict=True) if bits >> shift & bit)
        if who == "g" and bits & SETGID:
            perms += "s"
        if perms:
            parts.append(f"{who}+{perms}")
    return ",".join(parts)


@dataclass(frozen=True)
class Ownership:
    """The kubelet's fsGroup change of one volume (SetVolumeOwnership)."""

    group: int
    read_only: bool
    on_root_mismatch: bool = False

    @property
    def file_bits(self) -> int:
        return RO_MASK if self.read_only else RW_MASK

    @property
    def dir_bits(self) -> int:
        return self.file_bits | EXEC_MASK | SETGID

    def mode(self, mode: int, directory: bool) -> int:
        """changeFilePermission: a file's or directory's mode after the change (the group becomes `group`)."""
        return mode | (self.dir_bits if directory else self.file_bits)

    def script(self, root: str) -> list[str]:
        """Shell lines applying the change to the tree at `root` (as root, pod_engine.PREP_CAPABILITIES).

        chgrp clears setuid/setgid of regular files (the kernel does so on every chown); the kubelet then
        restores them, because it chmods with the mode it read before its Lchown. Such files are done one
        by one, keeping their mode; all others in bulk.
        """
        g, r = self.group, shlex.quote(root)
        keep = f"""'for f; do m=$(stat -c %a "$f"); chgrp {g} "$f"; chmod "$m" "$f"; done'"""
        walk = [
            f"find {r} \\( -type d -o ! {_SETID} \\) -exec chgrp -h {g} {{}} +",
            f"find {r} ! -type d ! -type l {_SETID} -exec sh -ec {keep} sh {{}} +",
            f"find {r} -type d -exec chmod {_symbolic(self.dir_bits)} {{}} +",
            f"find {r} ! -type d ! -type l -exec chmod {_symbolic(self.file_bits)} {{}} +",
        ]
        if not self.on_root_mismatch:
            return walk
        # OnRootMismatch (requiresPermissionChange): skip when the root has the group and all of dir_bits.
        matching = f"$(find {r} -maxdepth 0 -group {g} -perm -{self.dir_bits:o})"
        return [f'if [ -z "{matching}" ]; then', *walk, "fi"]


@dataclass(frozen=True)
class Setup:
    """One volume's set-up at pod start: its root as the volume plugin makes it, then the fsGroup change."""

    root_mode: int | None  # None: an existing claim, whose root is left as it is
    ownership: Ownership | None  # None: no fsGroup, or a read-only claim

    @property
    def root(self) -> tuple[int, int] | None:
        """(mode, group) of a new root after the set-up (its owner is root); None for an existing claim."""
        return None if self.root_mode is None else self.after(self.root_mode)

    def after(self, mode: int) -> tuple[int, int]:
        """(mode, group) that a root:root root directory of `mode` has after the set-up."""
        if self.ownership is None:
            return mode, 0
        return self.ownership.mode(mode, directory=True), self.ownership.group

    def script(self, root: str) -> list[str]:
        lines = []
        if self.root_mode is not None:
            lines.append(f"chown 0:0 {shlex.quote(root)} && chmod {self.root_mode:04o} {shlex.quote(root)}")
        if self.ownership is not None:
            lines += self.ownership.script(root)
        return lines


@dataclass(frozen=True)
class VolumePlan:
    """One pod volume: the Docker volume it is, and (`setup`) how the kubelet sets it up at pod start."""

    name: str
    docker_name: str
    kind: str  # "pvc", "emptydir", "tmpfs" or "files"
    read_only: bool = False
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    tmpfs_bytes: int | None = None
    root_mode: int = EMPTY_DIR_MODE  # of a pod-scoped volume, as the kubelet creates it

    @property
    def pod_scoped(self) -> bool:
        return self.kind != "pvc"

    def setup(self, fs_group: int | None, change_policy: str = "Always", new_claim: bool = False) -> Setup:
        """What the kubelet does to this volume when the pod starts, with the pod's fsGroup (if any)."""
        if self.kind == "pvc":
            rewrite = fs_group is not None and not self.read_only
            ownership = Ownership(fs_group, False, change_policy == "OnRootMismatch") if rewrite else None
            return Setup(NEW_CLAIM_MODE if new_claim else None, ownership)
        # emptyDir, Secret and ConfigMap pass no change policy to SetVolumeOwnership: always applied.
        return Setup(self.root_mode, None if fs_group is None else Ownership(fs_group, self.read_only))

    def tmpfs_options(self, fs_group: int | None) -> str:
        """Mount options of a tmpfs volume: a new tmpfs holds only its root, so they give its set-up state."""
        mode, group = self.setup(fs_group).after(self.root_mode)
        size = f",size={self.tmpfs_bytes}" if self.tmpfs_bytes else ""
        return f"mode={mode:04o},uid=0,gid={group}{size}"


def _files(release: Release, kind: str, name: str, body: dict, where: str) -> dict[str, tuple[bytes, int]]:
    optional = bool(body.get("optional"))
    default_mode = int(body.get("defaultMode", DEFAULT_FILE_MODE))
    items = body.get("items")
    if not items:
        data = release.key_values(kind, name, optional, where)
        return {key: (value, default_mode) for key, value in data.items()}
    files = {}
    for item in items:
        value = release.key_value(kind, name, item["key"], optional, where)
        if value is None:
            continue
        path = str(item["path"])
        if path.startswith("/") or ".." in path.split("/"):
            raise LocalRunError(f"{where}: item path {path!r} must be relative and stay inside the volume")
        files[path] = (value, int(item.get("mode", default_mode)))
    return files


def plan(
    volumes: list[dict], release: Release, pod_docker_name: str, claim_name, where: str
) -> list[VolumePlan]:
    """One plan per pod volume; `claim_name(claim)` gives the Docker volume name of a claim."""
    plans = []
    for volume in volumes:
        name = volume["name"]
        vwhere = f"{where}.volumes[{name}]"
        scoped = f"{pod_docker_name}-{name}"
        if "persistentVolumeClaim" in volume:
            body = volume["persistentVolumeClaim"]
            plans.append(VolumePlan(name, claim_name(body["claimName"]), "pvc", bool(body.get("readOnly"))))
        elif "emptyDir" in volume:
            body = volume["emptyDir"] or {}
            memory = body.get("medium") == "Memory"
            if memory or "sizeLimit" in body:
                size = memory_bytes(body["sizeLimit"], f"{vwhere}.sizeLimit") if "sizeLimit" in body else None
                mode = TMPFS_ROOT_MODE if memory else EMPTY_DIR_MODE
                plans.append(VolumePlan(name, scoped, "tmpfs", tmpfs_bytes=size, root_mode=mode))
            else:
                plans.append(VolumePlan(name, scoped, "emptydir"))
        elif "secret" in volume:
            body = volume["secret"]
            files = _files(release, "Secret", body["secretName"], body, vwhere)
            plans.append(VolumePlan(name, scoped, "files", True, files, root_mode=TMPFS_ROOT_MODE))
        elif "configMap" in volume:
            body = volume["configMap"]
            files = _files(release, "ConfigMap", body["name"], body, vwhere)
            plans.append(VolumePlan(name, scoped, "files", True, files, root_mode=TMPFS_ROOT_MODE))
    return plans


def tar_of(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A tar of the files (root:root), with the parent directories they need (0755, as the kubelet's)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        made: set[str] = set()
        for path, (content, mode) in sorted(files.items()):
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in made:
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, PAYLOAD_DIR_MODE, time.time()
                    tar.addfile(info)
                    made.add(directory)
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), mode, time.time()
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
