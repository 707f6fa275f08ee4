"""Questions for `mlops init`: a flag or environment value wins, then a saved default, then the prompt."""

from __future__ import annotations

import getpass
import sys

from ..client.errors import ClientError


class Asker:
    """Asks on the terminal, or, when `interactive` is False, fails naming the flag that was missing."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive

    def value(
        self, label: str, given: str | None, default: str | None, flag: str, required: bool = True
    ) -> str:
        if given:
            return given
        if not self.interactive:
            if default or not required:
                return default or ""
            raise ClientError(
                f"{label} is missing", f"pass {flag} (or run `mlops init` without --yes to be asked)"
            )
        suffix = f" [{default}]" if default else (" (empty to skip)" if not required else "")
        while True:
            answer = self._input(f"{label}{suffix}: ").strip() or (default or "")
            if answer or not required:
                return answer
            print(f"  {label} is required.", file=sys.stderr)

    def secret(self, label: str, flag: str) -> str:
        if not self.interactive:
            raise ClientError(f"{label} is missing", f"pass {flag}, or set MLFLOW_TRACKING_PASSWORD")
        try:
            answer = getpass.getpass(f"{label}: ")  # never echoed
        except EOFError as err:
            raise ClientError(f"no {label} given", f"pass {flag}") from err
        if not answer:
            raise ClientError(f"{label} is empty", "type the password you were given")
        return answer

    def confirm(self, question: str) -> bool:
        if not self.interactive:
            return False
        return self._input(f"{question} [y/N]: ").strip().lower() in ("y", "yes")

    @staticmethod
    def _input(prompt: str) -> str:
        try:
            return input(prompt)
        except EOFError as err:
            raise ClientError(
                "no answer on standard input", "run in a terminal, or pass every value as a flag with --yes"
            ) from err
