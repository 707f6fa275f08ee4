"""How the upgrade test (scripts/ci-upgrade-test) reads the migration Job's pods: the order check must
accept a dump-then-migrate pod and reject every other story. Runs anywhere (no cluster needed): the input
is what `kubectl get pods --watch --output-watch-events -o json` prints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from . import cluster
from .upgrade import migration_problems, watch_events


def pod(
    dump: dict[str, Any] | None, migrate: dict[str, Any] | None, name: str = "mlops-db-migration-x"
) -> dict:
    def status(container: str, terminated: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": container, "state": {"terminated": terminated} if terminated else {"running": {}}}

    return {
        "metadata": {"name": name, "labels": {cluster.COMPONENT_LABEL: "migration"}},
        "status": {
            "initContainerStatuses": [status("pg-dump", dump)],
            "containerStatuses": [status("db-upgrade", migrate)],
        },
    }


def ended(exit_code: int, started: str, finished: str) -> dict[str, Any]:
    return {"exitCode": exit_code, "startedAt": started, "finishedAt": finished}


def as_watch_output(*pods: dict[str, Any]) -> str:
    # kubectl prints one indented JSON document per event, back to back.
    return "\n".join(json.dumps({"type": "MODIFIED", "object": p}, indent=4) for p in pods)


DUMPED = ended(0, "2026-12-01T10:00:00Z", "2026-12-01T10:00:07Z")


def test_dump_then_migration_is_accepted() -> None:
    events = watch_events(
        as_watch_output(
            pod(None, None),
            pod(DUMPED, None),
            pod(DUMPED, ended(0, "2026-12-01T10:00:08Z", "2026-12-01T10:00:30Z")),
        )
    )
    assert len(events) == 3
    assert migration_problems(events) == []


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        pytest.param(
            pod(DUMPED, ended(0, "2026-12-01T10:00:05Z", "2026-12-01T10:00:30Z")),
            "mlops-db-migration-x: db-upgrade started 2026-12-01 10:00:05+00:00 before the dump finished "
            "2026-12-01 10:00:07+00:00",
            id="migrated-before-dump-finished",
        ),
        pytest.param(
            pod(
                ended(1, "2026-12-01T10:00:00Z", "2026-12-01T10:00:02Z"),
                ended(0, "2026-12-01T10:00:03Z", "x"),
            ),
            "mlops-db-migration-x: exit codes pg-dump=1 db-upgrade=0",
            id="dump-failed",
        ),
        pytest.param(
            pod(None, ended(0, "2026-12-01T10:00:08Z", "2026-12-01T10:00:30Z")),
            "mlops-db-migration-x: pg-dump terminated=None",
            id="no-dump",
        ),
    ],
)
def test_any_other_story_is_reported(final: dict[str, Any], expected: str) -> None:
    problems = migration_problems(watch_events(as_watch_output(pod(None, None), final)))
    assert len(problems) == 1
    assert problems[0].startswith(expected)


def test_no_migration_pod_is_reported() -> None:
    other = pod(DUMPED, DUMPED)
    other["metadata"]["labels"][cluster.COMPONENT_LABEL] = "backup"
    assert migration_problems(watch_events(as_watch_output(other))) == [
        "no pod of the migration Job was seen during the upgrade"
    ]
