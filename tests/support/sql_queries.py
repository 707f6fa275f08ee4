"""The SELECT statements an SQLAlchemy engine sends, to check how many queries a request costs."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine


def selects_sent(engine: Engine) -> list[str]:
    """A list that receives every SELECT `engine` sends from now on (sqlite's per-connection PRAGMAs and
    writes left out)."""
    seen: list[str] = []

    def record(conn, cursor, statement: str, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return seen
