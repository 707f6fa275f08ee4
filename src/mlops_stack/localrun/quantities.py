"""Kubernetes resource quantities ("512Mi", "250m", "1e3") as numbers Docker understands."""

from decimal import Decimal, InvalidOperation

from mlops_stack.localrun.errors import LocalRunError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}  # fmt: skip


def parse_quantity(value: str | int | float, what: str) -> Decimal:
    """The quantity as a plain number (bytes for memory, cores for CPU)."""
    text = str(value).strip()
    try:
        for suffix in sorted(_BINARY, key=len, reverse=True):
            if text.endswith(suffix):
                return Decimal(text[: -len(suffix)]) * _BINARY[suffix]
        for suffix in ("n", "u", "m", "k", "M", "G", "T", "P", "E"):
            if text.endswith(suffix):
                return Decimal(text[: -len(suffix)]) * _DECIMAL[suffix]
        return Decimal(text)
    except InvalidOperation:
        raise LocalRunError(f"{what}: {value!r} is not a Kubernetes quantity (e.g. 512Mi, 250m, 2)") from None


def memory_bytes(value: str | int | float, what: str) -> int:
    return int(parse_quantity(value, what))


def nano_cpus(value: str | int | float, what: str) -> int:
    return int(parse_quantity(value, what) * Decimal("1e9"))


def cpu_shares(value: str | int | float, what: str) -> int:
    """CPU request as cgroup v1 shares, the way the kubelet converts it (1 core = 1024, minimum 2)."""
    return max(2, int(parse_quantity(value, what) * 1024))
