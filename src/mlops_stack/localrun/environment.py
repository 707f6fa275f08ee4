"""Container environment from env/valueFrom/envFrom, and Kubernetes' `$(VAR)` expansion."""

import re
from dataclasses import dataclass

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.manifests import Release

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


@dataclass(frozen=True)
class PodIdentity:
    """What `fieldRef` can ask about a pod before it runs."""

    name: str
    namespace: str
    service_account: str
    labels: dict[str, str]
    annotations: dict[str, str]


def expand(text: str, variables: dict[str, str]) -> str:
    """Kubernetes' rule: `$(VAR)` becomes VAR's value when defined, else stays; `$$` is a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return variables[name] if name in variables else match.group(0)

    return _REFERENCE.sub(replace, text)


def _field(pod: PodIdentity, path: str) -> str:
    if path == "metadata.name":
        return pod.name
    if path == "metadata.namespace":
        return pod.namespace
    if path == "spec.serviceAccountName":
        return pod.service_account
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        source = pod.labels if match.group(1) == "labels" else pod.annotations
        return source.get(match.group(2), "")
    raise LocalRunError(f"fieldRef {path!r} is not supported")


def _text(value: bytes, where: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise LocalRunError(f"{where}: the value is binary and cannot be an environment variable") from None


def resolve(container: dict, release: Release, pod: PodIdentity, where: str) -> dict[str, str]:
    """The environment in Kubernetes' order: envFrom first, then env (later names win, `$(VAR)` expanded)."""
    variables: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, ref_key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            if ref_key in source:
                body = source[ref_key]
                found = release.key_values(kind, body["name"], bool(body.get("optional")), where)
                for key, value in found.items():
                    variables[prefix + key] = _text(value, f"{where}: {kind} {body['name']}.{key}")
    for env in container.get("env") or []:
        name = env["name"]
        if "valueFrom" not in env:
            variables[name] = expand(str(env.get("value", "")), variables)
            continue
        source = env["valueFrom"]
        if "fieldRef" in source:
            variables[name] = _field(pod, source["fieldRef"]["fieldPath"])
            continue
        kind, body = ("Secret", source["secretKeyRef"]) if "secretKeyRef" in source else (
            "ConfigMap", source["configMapKeyRef"])  # fmt: skip
        value = release.key_value(
            kind, body["name"], body["key"], bool(body.get("optional")), f"{where}.{name}"
        )
        if value is not None:
            variables[name] = _text(value, f"{where}.{name}")
    return variables


def command_line(container: dict, variables: dict[str, str]) -> tuple[list[str] | None, list[str] | None]:
    """Docker entrypoint and cmd from Kubernetes command/args, with `$(VAR)` expanded.

    Kubernetes' `command` replaces the image ENTRYPOINT (and drops its CMD); `args` replaces CMD.
    """
    command = [expand(str(a), variables) for a in container.get("command") or []] or None
    args = [expand(str(a), variables) for a in container.get("args") or []] or None
    if command is not None and args is None:
        args = []
    return command, args
