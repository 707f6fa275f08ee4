"""The data scientist's workflow, step by step, against any running stack.

Every function takes the stack's endpoints, so the same steps run against every target of tests/workflow:
the local stack, and a cluster through port-forwards. Each step runs the real client the way a person
would (git, `mlops`, `dvc`, `python train.py` from examples/), in a `Workstation` with its own HOME, so
MLflow credentials, the SSH host-key pin and the Prefect profile land in a throw-away place.

    station = Workstation.create(tmp_path)
    repo = station.new_project(tmp_path / "wine")
    station.configure(repo, endpoints)                        # mlops init ... --yes
    station.version_data(repo)                                # dvc add + dvc push + commit
    run_id = station.train(repo, "mlflow.experiment=e2e")     # python train.py
    version = station.register(repo, run_id, "wine", "champion")
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
VENV_BIN = Path(sys.executable).parent
DATASET = Path("data/wine.csv")


@dataclass(frozen=True)
class Endpoints:
    """Where the stack answers, and the admin's credentials."""

    tracking_uri: str
    username: str
    password: str
    sftp_host: str
    sftp_port: int
    sftp_user: str
    identity_file: Path
    host_key_fingerprint: str


class StepFailed(AssertionError):
    """A workflow command failed; the message has the command and its output."""


@dataclass
class Workstation:
    """A data scientist's machine: its own HOME, the project's virtualenv tools on PATH."""

    home: Path

    @classmethod
    def create(cls, base: Path) -> Workstation:
        home = base / "home"
        home.mkdir(parents=True, exist_ok=True)
        return cls(home)

    @property
    def env(self) -> dict[str, str]:
        keep = {
            k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_", "DVC_", "MLOPS_"))
        }
        return {
            **keep,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PREFECT_HOME": str(self.home / ".prefect"),
            # Prefect 3 starts a temporary local API for the flow when no server is configured; a loaded
            # 2-core machine needs more than its default 20 s for that.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "GIT_AUTHOR_NAME": "Data Scientist",
            "GIT_AUTHOR_EMAIL": "ds@example.org",
            "GIT_COMMITTER_NAME": "Data Scientist",
            "GIT_COMMITTER_EMAIL": "ds@example.org",
            "DVC_NO_ANALYTICS": "1",
        }

    def run(self, args: list[str], cwd: Path, stdin: str | None = None, timeout: float = 600) -> str:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise StepFailed(
                f"`{' '.join(args)}` in {cwd} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
                f"\n--- stderr\n{done.stderr[-4000:]}"
            )
        return done.stdout

    def python(self, script: str, *args: str, cwd: Path) -> str:
        return self.run([sys.executable, script, *args], cwd)

    # ---- steps of the method
    def new_project(self, dest: Path) -> Path:
        """A fresh Git repository holding examples/ and its first data version, code committed."""
        shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("__pycache__", "data", "mlruns"))
        self.run(["git", "init", "-q", "-b", "main"], dest)
        self.run(["dvc", "init", "-q"], dest)
        self.python("prepare_data.py", cwd=dest)
        self.run(["git", "add", "-A", "--", ":!data"], dest)
        self.run(["git", "commit", "-q", "-m", "wine classifier: code"], dest)
        return dest

    def configure(self, repo: Path, stack: Endpoints, prefect: tuple[str, str] | None = None) -> str:
        """`mlops init`, non-interactive, password on stdin; inside the repo it also sets the DVC remote.
        `prefect`: (API URL, auth string) also configures the Prefect client, the auth string from a file."""
        extra: list[str] = []
        if prefect:
            auth_file = self.home / "prefect-auth-string"
            auth_file.write_text(prefect[1] + "\n")
            auth_file.chmod(0o600)
            extra = ["--prefect-api-url", prefect[0], "--prefect-auth-string-file", str(auth_file)]
        return self.run(
            [
                "mlops", "init", "--tracking-uri", stack.tracking_uri, "--username", stack.username,
                "--password-stdin", "--sftp-host", stack.sftp_host, "--sftp-port", str(stack.sftp_port),
                "--sftp-user", stack.sftp_user, "--identity-file", str(stack.identity_file),
                "--host-key-fingerprint", stack.host_key_fingerprint, *extra, "--yes",
            ],
            repo,
            stdin=stack.password + "\n",
        )  # fmt: skip

    def version_data(self, repo: Path, message: str = "data: wine v1") -> str:
        """`dvc add` the dataset, `dvc push` it to the SFTP server, commit the .dvc file; returns its md5.

        The DVC remote that `mlops init` wrote into .dvc/config is committed with it, so clones know it.
        """
        self.run(["dvc", "add", "-q", str(DATASET)], repo)
        self.run(["dvc", "push", "-q"], repo)
        self.run(["git", "add", ".dvc/config", f"{DATASET}.dvc", str(DATASET.parent / ".gitignore")], repo)
        self.run(["git", "commit", "-q", "-m", message], repo)
        match = re.search(r"md5: ([0-9a-f]{32})", (repo / f"{DATASET}.dvc").read_text())
        assert match, f"no md5 in {DATASET}.dvc"
        return match.group(1)

    def train(self, repo: Path, *overrides: str) -> str:
        """`python train.py --set ...`; returns the MLflow run id it printed."""
        args = [a for o in overrides for a in ("--set", o)]
        output = self.python("train.py", *args, cwd=repo)
        match = re.search(r"^MLflow run: ([0-9a-f]{32})$", output, re.MULTILINE)
        assert match, f"train.py printed no run id:\n{output[-2000:]}"
        return match.group(1)

    def register(self, repo: Path, run_id: str, name: str, alias: str) -> str:
        output = self.python("register.py", run_id, "--name", name, "--alias", alias, cwd=repo)
        match = re.search(rf"registered {re.escape(name)} version (\d+) as @{re.escape(alias)}", output)
        assert match, output
        return match.group(1)

    def predict(self, repo: Path, model_uri: str, rows: int = 5) -> list[str]:
        output = self.python("predict.py", str(DATASET), "--model", model_uri, "--rows", str(rows), cwd=repo)
        return re.findall(r"^row \d+: (\S+)$", output, re.MULTILINE)

    def clone_and_pull(self, origin: Path, dest: Path, stack: Endpoints) -> Path:
        """Step 1 of the method on another machine: `git clone` + `dvc pull` (after `mlops init` there)."""
        self.run(["git", "clone", "-q", str(origin), str(dest)], origin.parent)
        self.configure(dest, stack)  # the key file lives in .dvc/config.local, which is never cloned
        self.run(["dvc", "pull", "-q"], dest)
        return dest


@dataclass
class TrainedProject:
    """What one pass of the method left behind, for the tests to check on the server and the volume."""

    station: Workstation
    repo: Path
    init_output: str
    md5: str
    run_id: str
    commit: str
    version: str


def follow_the_method(
    base: Path, stack: Endpoints, experiment: str, model: str, alias: str
) -> TrainedProject:
    """New project from examples/, `mlops init`, version the data, commit, train, register by alias."""
    station = Workstation.create(base)
    repo = station.new_project(base / "wine")
    init_output = station.configure(repo, stack)
    md5 = station.version_data(repo)
    run_id = station.train(repo, f"mlflow.experiment={experiment}")
    commit = station.run(["git", "rev-parse", "HEAD"], repo).strip()
    version = station.register(repo, run_id, model, alias)
    return TrainedProject(station, repo, init_output, md5, run_id, commit, version)
