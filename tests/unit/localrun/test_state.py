"""Generated secrets: kept across renders like `lookup` keeps them on a cluster (no engine needed)."""

import base64
import stat
from pathlib import Path

from mlops_stack.localrun.state import SECRETS_FILE, State

from .manifests import configmap, secret


def rendered(password: str, keys: str, host_pub: str) -> list[dict]:
    return [secret("db", password=password, authorized_keys=keys), configmap("known", host_pub=host_pub)]


def value(doc: dict, key: str) -> str:
    return base64.b64decode(doc["data"][key]).decode()


def test_generated_values_are_stored_privately_and_put_back(tmp_path: Path) -> None:
    state = State(tmp_path / "state")
    first = state.keep_generated(
        rendered("aaa", "ssh-ed25519 K1", "pub-1"), rendered("bbb", "ssh-ed25519 K1", "pub-2")
    )
    assert value(first[0], "password") == "aaa"
    assert stat.S_IMODE((tmp_path / "state" / SECRETS_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700

    # A later render: new random values, and the user changed the authorized keys in the values.
    later = state.keep_generated(
        rendered("ccc", "ssh-ed25519 K2", "pub-3"), rendered("ddd", "ssh-ed25519 K2", "pub-4")
    )
    assert value(later[0], "password") == "aaa"  # generated: the first one is kept
    assert value(later[0], "authorized_keys") == "ssh-ed25519 K2"  # from the values: the new one wins
    assert later[1]["data"]["host_pub"] == "pub-1"  # derived from a generated key, in a ConfigMap
    assert state.secret_value("db", "password") == b"aaa"
    assert state.secret_value("db", "authorized_keys") is None


def test_single_render_treats_every_secret_key_as_generated(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.keep_generated([secret("db", password="aaa")], None)
    again = state.keep_generated([secret("db", password="zzz")], None)
    assert value(again[0], "password") == "aaa"


def test_forget_drops_revision_and_secrets(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.record_revision(3)
    state.keep_generated([secret("db", password="aaa")], None)
    assert state.revision == 3
    state.forget()
    assert state.revision == 0
    assert state.secret_value("db", "password") is None
