"""A container's resources (limits, requests) and their quantities ("512Mi", "250m", "1e3") as the numbers
the runtime enforces: bytes, nano-CPUs and CPU shares."""

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Resources:
    """What a container's cgroup is given; None: not set in the manifest."""

    memory_limit: int | None = None  # bytes; no swap beyond it, as the kubelet gives none
    nano_cpus: int | None = None
    memory_reservation: int | None = None  # bytes
    cpu_shares: int | None = None


def resources(spec: dict, where: str) -> Resources:
    """A container's `resources` (admission.py refuses anything but cpu and memory)."""
    limits, requests = spec.get("limits") or {}, spec.get("requests") or {}

    def number(part: dict, name: str, convert, what: str) -> int | None:
        return convert(part[name], f"{where}.resources.{what}.{name}") if name in part else None

    return Resources(
        memory_limit=number(limits, "memory", memory_bytes, "limits"),
        nano_cpus=number(limits, "cpu", nano_cpus, "limits"),
        memory_reservation=number(requests, "memory", memory_bytes, "requests"),
        cpu_shares=number(requests, "cpu", cpu_shares, "requests"),
    )
