"""Pod volumes as Docker named volumes.

- persistentVolumeClaim -> a named volume that outlives the pod (`down` keeps it, `clean` removes it);
  when first created it is given to the pod's fsGroup (or group 0) with mode 2775, as the kubelet does.
- emptyDir -> a volume that lives as long as the pod: tmpfs when `medium: Memory` or a `sizeLimit` is set
  (the limit becomes the tmpfs size), else on disk; mode 0777 like the kubelet's emptyDir.
- secret / configMap -> a volume filled with the selected keys as files (items, defaultMode, mode), owned
  by root and the fsGroup, mounted read-only. (The kubelet uses tmpfs for Secrets; a tmpfs Docker volume
  loses its content when no container holds it, so here they are on disk and removed with the pod.)

Every mount uses `nocopy`: like a Kubernetes volume, it hides what the image has at that path.
"""

import io
import tarfile
import time
from dataclasses import dataclass, field

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.manifests import Release
from mlops_stack.localrun.quantities import memory_bytes

DEFAULT_FILE_MODE = 0o644


@dataclass
class VolumePlan:
    name: str
    docker_name: str
    kind: str  # "pvc", "emptydir", "tmpfs" or "files"
    read_only: bool = False
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    tmpfs_bytes: int | None = None

    @property
    def pod_scoped(self) -> bool:
        return self.kind != "pvc"


def _files(release: Release, kind: str, name: str, body: dict, where: str) -> dict[str, tuple[bytes, int]]:
    store = release.secrets if kind == "Secret" else release.configmaps
    optional = bool(body.get("optional"))
    default_mode = int(body.get("defaultMode", DEFAULT_FILE_MODE))
    if name not in store:
        if optional:
            return {}
        raise LocalRunError(f"{where}: {kind} {name!r} is not among the rendered manifests")
    data = store[name]
    items = body.get("items")
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    files = {}
    for item in items:
        key = item["key"]
        if key not in data:
            if optional:
                continue
            raise LocalRunError(f"{where}: {kind} {name!r} has no key {key!r} (it has {sorted(data)})")
        path = str(item["path"])
        if path.startswith("/") or ".." in path.split("/"):
            raise LocalRunError(f"{where}: item path {path!r} must be relative and stay inside the volume")
        files[path] = (data[key], int(item.get("mode", default_mode)))
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
            if body.get("medium") == "Memory" or "sizeLimit" in body:
                size = memory_bytes(body["sizeLimit"], f"{vwhere}.sizeLimit") if "sizeLimit" in body else None
                plans.append(VolumePlan(name, scoped, "tmpfs", tmpfs_bytes=size))
            else:
                plans.append(VolumePlan(name, scoped, "emptydir"))
        elif "secret" in volume:
            body = volume["secret"]
            files = _files(release, "Secret", body["secretName"], body, vwhere)
            plans.append(VolumePlan(name, scoped, "files", read_only=True, files=files))
        elif "configMap" in volume:
            body = volume["configMap"]
            files = _files(release, "ConfigMap", body["name"], body, vwhere)
            plans.append(VolumePlan(name, scoped, "files", read_only=True, files=files))
    return plans


def tar_of(files: dict[str, tuple[bytes, int]], group: int) -> bytes:
    """A tar of the files (root-owned, `group` as group), with the parent directories they need."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        made: set[str] = set()
        for path, (content, mode) in sorted(files.items()):
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in made:
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode, info.gid, info.mtime = tarfile.DIRTYPE, 0o755, group, time.time()
                    tar.addfile(info)
                    made.add(directory)
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.gid, info.mtime = len(content), mode, group, time.time()
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
