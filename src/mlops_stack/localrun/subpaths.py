"""`volumeMounts[].subPath` as the kubelet makes it (makeMounts in kubernetes pkg/kubelet/kubelet_pods.go).

When a container starts (not the pod: an init container may have made the directory, and then it is
kept as that container made it), each subPath missing from its volume is created by root, every missing
component with the mode of the volume's root (`SafeMakeDir(subPath, volumePath, GetMode(volumePath))`,
setgid included, so under an fsGroup it inherits the root's group). A component that is a symlink is
refused (the kubelet refuses a subPath that leaves the volume; here any symlink, stricter). Then the
directory is bind-mounted: Docker 20.10 has no volume subpath, so the bind's source is the volume's own
directory on the engine's host, which the engine resolves itself.
"""

import shlex

from mlops_stack.localrun.plan import ContainerPlan

SUB_ROOT = "/subpath"  # where the helper mounts each volume


def volumes_with_sub_paths(container: ContainerPlan) -> list[str]:
    """The Docker volumes of `container` that it mounts (partly) by subPath, in mount order, once each."""
    names: list[str] = []
    for mount in container.mounts:
        if mount.sub_path and mount.volume not in names:
            names.append(mount.volume)
    return names


def script(container: ContainerPlan, where: str) -> str:
    """Shell (run as root, the volumes at SUB_ROOT/<volume>) making each missing subPath of `container`."""
    lines = ["set -eu"]
    for mount in container.mounts:
        if not mount.sub_path:
            continue
        root = shlex.quote(f"{SUB_ROOT}/{mount.volume}")
        refusal = shlex.quote(f"{where}: subPath {mount.sub_path!r} of volume {mount.volume}: ")
        lines.append(
            f"p={root}; for part in {' '.join(shlex.quote(c) for c in mount.sub_path.split('/'))}; do"
            f' p="$p/$part"; if [ -L "$p" ]; then'
            f' echo {refusal}"${{p#{root}/}} is a symlink" >&2; exit 3; fi;'
            f' [ -e "$p" ] || {{ mkdir "$p" && chmod "$(stat -c %a {root})" "$p"; }}; done'
        )
    return "\n".join(lines)
