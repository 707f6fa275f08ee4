"""Starting a server process and waiting until it answers, for every suite that runs one.

    process = start_server(command, what="mlflow server", log=workdir / "server.log", cwd=workdir,
                           env=env, ready=lambda: http_ok(f"{url}/health"), timeout=180)
    ...
    stop(process)

`wait_until` is the one poll loop (the CLI tests' servers, the image tests' containers, the local stack);
`http_ok` the one HTTP readiness probe.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_ok(url: str, timeout: float = 2, status: int = 200) -> bool:
    """True when GET `url` answers `status` (an error status counts when it is the one expected)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (the tests' own http URLs)
            return resp.status == status
    except urllib.error.HTTPError as err:
        return err.code == status
    except (OSError, ValueError):
        return False


def wait_until(
    probe: Callable[[], bool],
    *,
    timeout: float,
    interval: float,
    check: Callable[[], None],
    timed_out: Callable[[], Exception],
) -> None:
    """Poll `probe` until it returns True; `check` raises when waiting longer is pointless (the process or
    container is gone), `timed_out` is raised after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        if probe():
            return
        time.sleep(interval)
    raise timed_out()


def wait_for_process(
    probe: Callable[[], bool], what: str, process: subprocess.Popen, log: Path, timeout: float
) -> None:
    """`wait_until` for a local process writing `log`: fail as soon as it exits, with its log tail."""

    def check() -> None:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")

    def timed_out() -> Exception:
        return RuntimeError(f"{what} not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")

    wait_until(probe, timeout=timeout, interval=0.3, check=check, timed_out=timed_out)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        # The server runs in its own session: signal its whole process group (uvicorn workers too).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_server(
    command: Sequence[str],
    *,
    what: str,
    log: Path,
    ready: Callable[[], bool],
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    append: bool = False,
) -> subprocess.Popen:
    """Start `command` in its own session, output to `log`, and wait until `ready()`; stopped again if it
    never gets there."""
    with log.open("a" if append else "w") as out:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_process(ready, what, process, log, timeout)
    except BaseException:
        stop(process)
        raise
    return process
