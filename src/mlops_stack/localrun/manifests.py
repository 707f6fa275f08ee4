"""Rendered manifests: parsed, split into hooks and release objects, Secrets and ConfigMaps decoded."""

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


def _decode_secret(manifest: Manifest) -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    for key, encoded in (manifest.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(encoded or "", validate=True)
        except ValueError:
            raise LocalRunError(f"{ref(manifest)}: data.{key} is not valid base64") from None
    for key, text in (manifest.get("stringData") or {}).items():
        values[key] = str(text).encode()
    return values


def _decode_configmap(manifest: Manifest) -> dict[str, bytes]:
    values = {k: str(v).encode() for k, v in (manifest.get("data") or {}).items()}
    for key, encoded in (manifest.get("binaryData") or {}).items():
        values[key] = base64.b64decode(encoded)
    return values


def build_release(docs: list[Manifest]) -> Release:
    release = Release()
    for doc in docs:
        kind = doc["kind"]
        name = doc["metadata"].get("name")
        if not name:
            raise LocalRunError(f"a rendered {kind} has no metadata.name")
        if kind == "Secret":
            release.secrets[name] = _decode_secret(doc)
        elif kind == "ConfigMap":
            release.configmaps[name] = _decode_configmap(doc)
        hook = _hook_of(doc)
        if hook is not None:
            release.hooks.append(hook)
        else:
            release.objects.append(doc)
    return release
