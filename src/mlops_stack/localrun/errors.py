"""Errors the runner reports to the user: each says what to change."""


class LocalRunError(Exception):
    """Something went wrong running the manifests (a pod failed, a probe timed out, a key is missing)."""


class Refused(LocalRunError):
    """The manifests use kinds or fields the runner cannot honour; it names every one of them."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        lines = "\n".join(f"  - {r}" for r in reasons)
        super().__init__(
            "the local runner refuses these manifests (it never ignores what it cannot honour):\n"
            f"{lines}\n"
            "Render the chart with these features disabled for local use, or deploy to a cluster."
        )
