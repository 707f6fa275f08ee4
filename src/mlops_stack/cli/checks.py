"""One check of `mlops doctor`: a status, what was found, and what to do about a failure."""

from __future__ import annotations

from dataclasses import dataclass

OK, FAIL, SKIP = "OK", "FAIL", "SKIP"


@dataclass
class CheckResult:
    status: str
    name: str
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{self.status:<4}  {self.name:<18} {self.detail}"
        return f"{text} -> {self.fix}" if self.fix and self.status == FAIL else text
