"""`make clean` never deletes data without a confirmation (no engine needed for the refusal)."""

import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_clean_without_confirmation_removes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.json").write_text('{"revision": 1}')
    done = subprocess.run(
        [str(REPO_ROOT / "scripts" / "stack-clean")],
        env={"PATH": "/usr/bin:/bin", "STACK_DIR": str(state), "PROJECT": "runner-test-clean"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert (
        done.stderr
        == "stack-clean: refusing to delete data without confirmation; run with FORCE=1 or --yes\n"
    )
    assert done.stdout == "nothing removed\n"
    assert (state / "state.json").exists()
