"""Rendered manifests: parsed, split into hooks and release objects, and the one reader of the keys of
Secrets and ConfigMaps (`data`, `stringData`, `binaryData`) that env, files and the state directory use."""

import base64
from dataclasses import dataclass, field
from typing import Any

import yaml

from mlops_stack.localrun.errors import LocalRunError

Manifest = dict[str, Any]

HOOK_ANNOTATION = "helm.sh/hook"
HOOK_WEIGHT_ANNOTATION = "helm.sh/hook-weight"
HOOK_DELETE_ANNOTATION = "helm.sh/hook-delete-policy"
# The hook points `helm upgrade --install` runs; `test` hooks only run on request (see Runner.test).
HOOK_POINTS = {
    "pre-install", "post-install", "pre-upgrade", "post-upgrade", "test",
    "pre-delete", "post-delete", "pre-rollback", "post-rollback", "test-success",
}  # fmt: skip


@dataclass(frozen=True)
class Hook:
    manifest: Manifest
    points: frozenset[str]
    weight: int
    delete_policies: frozenset[str]

    @property
    def name(self) -> str:
        return self.manifest["metadata"]["name"]


@dataclass
class Release:
    """What one `helm template` rendered."""

    objects: list[Manifest] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    secrets: dict[str, dict[str, bytes]] = field(default_factory=dict)
    configmaps: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def key_values(self, kind: str, name: str, optional: bool, where: str) -> dict[str, bytes]:
        """The keys of the Secret or ConfigMap `name`; none for a missing optional one."""
        store = self.secrets if kind == "Secret" else self.configmaps
        if name not in store:
            if optional:
                return {}
            raise LocalRunError(f"{where}: {kind} {name!r} is not among the rendered manifests")
        return store[name]

    def key_value(self, kind: str, name: str, key: str, optional: bool, where: str) -> bytes | None:
        """One key of the Secret or ConfigMap `name`; None when it, or the object, is missing and optional."""
        values = self.key_values(kind, name, optional, where)
        if key not in values:
            if optional:
                return None
            raise LocalRunError(f"{where}: {kind} {name!r} has no key {key!r} (it has {sorted(values)})")
        return values[key]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.objects if m["kind"] == kind]

    def hooks_at(self, point: str) -> list[Hook]:
        """Hooks for one point in the order Helm runs them: weight, then kind, then name."""
        chosen = [h for h in self.hooks if point in h.points]
        return sorted(chosen, key=lambda h: (h.weight, h.manifest["kind"], h.name))


def ref(manifest: Manifest) -> str:
    """`Kind/name`, how every message names an object."""
    return f"{manifest.get('kind', '?')}/{manifest.get('metadata', {}).get('name', '?')}"


def parse(text: str) -> list[Manifest]:
    """Every non-empty document of a multi-document YAML stream (`List` kinds flattened)."""
    docs: list[Manifest] = []
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise LocalRunError(f"the rendered manifests are not valid YAML: {exc}") from None
    for doc in loaded:
        if not doc:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
            raise LocalRunError(f"a rendered document is not a Kubernetes object: {str(doc)[:200]}")
        if doc["kind"] == "List":
            docs.extend(doc.get("items") or [])
        else:
            docs.append(doc)
    return docs


def _hook_of(manifest: Manifest) -> Hook | None:
    annotations = manifest["metadata"].get("annotations") or {}
    if HOOK_ANNOTATION not in annotations:
        return None
    points = frozenset(p.strip() for p in str(annotations[HOOK_ANNOTATION]).split(",") if p.strip())
    unknown = points - HOOK_POINTS
    if unknown:
        raise LocalRunError(f"{ref(manifest)}: unknown helm hook {sorted(unknown)}")
    try:
        weight = int(annotations.get(HOOK_WEIGHT_ANNOTATION, "0"))
    except ValueError:
        raise LocalRunError(f"{ref(manifest)}: {HOOK_WEIGHT_ANNOTATION} must be an integer") from None
    delete = annotations.get(HOOK_DELETE_ANNOTATION, "before-hook-creation")
    policies = frozenset(p.strip() for p in str(delete).split(",") if p.strip())
    return Hook(manifest, points, weight, policies)


# Where each kind keeps its keys: text as it is, or base64.
_TEXT_FIELDS = {"Secret": ("stringData",), "ConfigMap": ("data",)}
_BASE64_FIELDS = {"Secret": ("data",), "ConfigMap": ("binaryData",)}


def key_values(manifest: Manifest) -> dict[str, bytes]:
    """The keys of a Secret (`data` base64, then `stringData`, which wins) or a ConfigMap (`data`,
    `binaryData` base64) as bytes, as a container sees them."""
    kind = manifest["kind"]
    values: dict[str, bytes] = {}
    for part in _BASE64_FIELDS[kind]:
        for key, encoded in (manifest.get(part) or {}).items():
            try:
                values[key] = base64.b64decode(encoded or "", validate=True)
            except ValueError:
                raise LocalRunError(f"{ref(manifest)}: {part}.{key} is not valid base64") from None
    for part in _TEXT_FIELDS[kind]:
        for key, text in (manifest.get(part) or {}).items():
            values[key] = str(text).encode()
    return values


def set_key_value(manifest: Manifest, key: str, value: bytes) -> None:
    """Give a Secret's or ConfigMap's key the value (the inverse of `key_values`)."""
    if manifest["kind"] == "Secret":
        (manifest.get("stringData") or {}).pop(key, None)
        manifest.setdefault("data", {})[key] = base64.b64encode(value).decode()
    elif key in (manifest.get("binaryData") or {}):
        manifest["binaryData"][key] = base64.b64encode(value).decode()
    else:
        manifest.setdefault("data", {})[key] = value.decode()


def build_release(docs: list[Manifest]) -> Release:
    release = Release()
    for doc in docs:
        kind = doc["kind"]
        name = doc["metadata"].get("name")
        if not name:
            raise LocalRunError(f"a rendered {kind} has no metadata.name")
        if kind == "Secret":
            release.secrets[name] = key_values(doc)
        elif kind == "ConfigMap":
            release.configmaps[name] = key_values(doc)
        hook = _hook_of(doc)
        if hook is not None:
            release.hooks.append(hook)
        else:
            release.objects.append(doc)
    return release
