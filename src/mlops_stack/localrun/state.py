"""What survives between `up`s in the state directory (.stack/): the release revision and the values
`helm template` generates at random.

`helm template` cannot `lookup` what a cluster already holds, so every render generates new random
passwords and keys. On a cluster the chart's `lookup` keeps the first ones; here the first rendered values
are stored (mode 0600) and put back into later renders, which is what `lookup` would have done.
"""

import base64
import json
import os
from pathlib import Path

from mlops_stack.localrun.manifests import Manifest, key_values, ref, set_key_value

STATE_FILE = "state.json"
SECRETS_FILE = "generated-secrets.json"
# The manifests of the last successful `up`, like the release record Helm keeps in the cluster.
RELEASE_FILE = "release.json"


def _write_private(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
    os.replace(temporary, path)


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


class State:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # ---- release revision: decides between the install and the upgrade hooks
    @property
    def revision(self) -> int:
        return int(_read(self.directory / STATE_FILE).get("revision", 0))

    def record_revision(self, revision: int) -> None:
        _write_private(self.directory / STATE_FILE, {"revision": revision})

    # ---- the applied release
    def record_release(self, docs: list[Manifest], publish: dict | None = None) -> None:
        # The published ports too: `start` brings a stopped workload back on the same host ports.
        published = {
            svc: {str(port): list(to) for port, to in ports.items()} for svc, ports in (publish or {}).items()
        }
        _write_private(self.directory / RELEASE_FILE, {"manifests": docs, "publish": published})

    def last_release(self) -> list[Manifest]:
        return list(_read(self.directory / RELEASE_FILE).get("manifests", []))

    def last_publish(self) -> dict[str, dict[int, tuple[str, int]]]:
        published = _read(self.directory / RELEASE_FILE).get("publish", {})
        return {
            svc: {int(port): (to[0], int(to[1])) for port, to in ports.items()}
            for svc, ports in published.items()
        }

    # ---- generated values
    def has_generated(self) -> bool:
        return (self.directory / SECRETS_FILE).exists()

    def secret_value(self, name: str, key: str, kind: str = "Secret") -> bytes | None:
        stored = _read(self.directory / SECRETS_FILE).get(f"{kind}/{name}", {})
        return base64.b64decode(stored[key]) if key in stored else None

    def keep_generated(self, first: list[Manifest], second: list[Manifest] | None) -> list[Manifest]:
        """Put back the stored value of every generated key; store the ones seen for the first time.

        A key is generated when two renders of the same values disagree on it (with a single render, every
        Secret key counts as generated). Keys that come from the values stay as rendered, so editing a
        value still takes effect.
        """
        path = self.directory / SECRETS_FILE
        stored = _read(path)
        again = {ref(m): key_values(m) for m in second or [] if m["kind"] in ("Secret", "ConfigMap")}
        for manifest in first:
            if manifest["kind"] not in ("Secret", "ConfigMap"):
                continue
            name = ref(manifest)
            values = key_values(manifest)
            for key, value in values.items():
                if second is None:
                    generated = manifest["kind"] == "Secret"
                else:
                    generated = again.get(name, {}).get(key) != value
                if not generated:
                    continue
                kept = stored.setdefault(name, {})
                if key in kept:
                    set_key_value(manifest, key, base64.b64decode(kept[key]))
                else:
                    kept[key] = base64.b64encode(value).decode()
        _write_private(path, stored)
        return first

    def forget(self, keep_secrets: tuple[str, ...] = ()) -> None:
        """Forget the release; the generated values of the Secrets named in `keep_secrets` stay (the backup
        repository's password, which the kept backups need), as `helm.sh/resource-policy: keep` keeps a
        Secret through `helm uninstall`."""
        kept = {name: keys for name, keys in _read(self.directory / SECRETS_FILE).items()
                if name.partition("/")[2] in keep_secrets}  # fmt: skip
        for name in (STATE_FILE, SECRETS_FILE, RELEASE_FILE):
            (self.directory / name).unlink(missing_ok=True)
        if kept:
            _write_private(self.directory / SECRETS_FILE, kept)
