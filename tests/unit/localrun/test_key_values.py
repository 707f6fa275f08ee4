"""One reader of Secret and ConfigMap keys (manifests.key_values), the same for env, files and the state
directory (no engine needed)."""

import base64
from pathlib import Path

import pytest

from mlops_stack.localrun import volumes
from mlops_stack.localrun.environment import PodIdentity, resolve
from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.manifests import build_release, key_values
from mlops_stack.localrun.state import State

from .manifests import secret

POD = PodIdentity("p", "default", "default", {}, {})


def binary_configmap(name: str = "c", blob: bytes = b"blob-1", **text: str) -> dict:
    encoded = base64.b64encode(blob).decode()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": text,
        "binaryData": {"blob": encoded},
    }


def test_each_kind_keeps_its_keys_where_kubernetes_does() -> None:
    password = base64.b64encode(b"from-data").decode()
    both = {
        **secret("s"),
        "data": {"password": password, "user": "dXNlcg=="},
        "stringData": {"password": "x"},
    }
    assert key_values(both) == {"password": b"x", "user": b"user"}  # stringData wins over data
    assert key_values(binary_configmap(plain="text")) == {"plain": b"text", "blob": b"blob-1"}
    with pytest.raises(LocalRunError, match=r"ConfigMap/c: binaryData.blob is not valid base64"):
        key_values({**binary_configmap(), "binaryData": {"blob": "not base64!"}})


def test_a_configmap_binary_data_key_is_found_by_env_files_and_the_state_directory(tmp_path: Path) -> None:
    release = build_release([binary_configmap(plain="text")])
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "c"}, "prefix": "ALL_"}],
        "env": [{"name": "BLOB", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "blob"}}}],
    }
    assert resolve(container, release, POD, "c") == {
        "ALL_plain": "text",
        "ALL_blob": "blob-1",
        "BLOB": "blob-1",
    }

    whole = {"name": "all", "configMap": {"name": "c"}}
    one = {
        "name": "one",
        "configMap": {"name": "c", "items": [{"key": "blob", "path": "b/blob", "mode": 0o400}]},
    }
    plans = volumes.plan([whole, one], release, "pod", lambda claim: claim, "Pod/p")
    assert [p.files for p in plans] == [
        {"plain": (b"text", 0o644), "blob": (b"blob-1", 0o644)},
        {"b/blob": (b"blob-1", 0o400)},
    ]

    # A binaryData key that differs between two renders is generated: its first value is kept, in binaryData.
    state = State(tmp_path)
    state.keep_generated([binary_configmap(blob=b"blob-1")], [binary_configmap(blob=b"blob-2")])
    later = state.keep_generated([binary_configmap(blob=b"blob-3")], [binary_configmap(blob=b"blob-4")])
    assert later[0]["binaryData"] == {"blob": base64.b64encode(b"blob-1").decode()}
    assert state.secret_value("c", "blob", kind="ConfigMap") == b"blob-1"


def test_a_missing_object_or_key_is_named_unless_optional() -> None:
    release = build_release([secret("s", other="x")])
    assert release.key_values("Secret", "absent", True, "w") == {}
    assert release.key_value("Secret", "s", "password", True, "w") is None
    with pytest.raises(LocalRunError, match=r"^w: ConfigMap 'absent' is not among the rendered manifests$"):
        release.key_values("ConfigMap", "absent", False, "w")
    with pytest.raises(LocalRunError, match=r"^w: Secret 's' has no key 'password' \(it has \['other'\]\)$"):
        release.key_value("Secret", "s", "password", False, "w")
