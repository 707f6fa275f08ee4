"""The chart's own `helm test` hook (logs a run with an artifact through the service, checks it on SFTP),
run by the local runner against the stack `make up` started."""

import os
import subprocess

import pytest
from tests.stack.conftest import REPO_ROOT
from tests.support.workflow import Endpoints

pytestmark = pytest.mark.stack


def test_chart_test_hook_passes_on_the_local_stack(stack: Endpoints) -> None:
    done = subprocess.run(
        [str(REPO_ROOT / "scripts" / "stack-up"), "--test"],
        cwd=REPO_ROOT,
        env={**os.environ, "TIMEOUT": "600"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.splitlines()[-2:] == [
        "hook test Pod/mlops-stack-test (weight 0): running",
        "1 test hook(s) passed",
    ]
