"""The one exception type of the client: the `mlops` command turns it into a message and exit code 1."""

from __future__ import annotations


class ClientError(Exception):
    """A problem the user can fix: `message` says what is wrong, `fix` says what to do about it."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message
