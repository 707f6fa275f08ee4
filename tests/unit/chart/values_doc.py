"""The generated parts of the chart README: the values table, from the `# --` comments in values.yaml,
and the example values files, copied verbatim from ci/*-values.yaml (the files the chart tests render).

    make docs    # = .venv/bin/python tests/unit/chart/values_doc.py --write
        # rewrites the table and the examples in charts/mlops-stack/README.md

test_readme.py fails when either is stale or a value has no `# --` comment.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[3] / "charts" / "mlops-stack"
BEGIN, END = "<!-- values-table:begin -->", "<!-- values-table:end -->"
# <!-- example:begin ci/openshift-values.yaml --> a ```yaml block holding that file <!-- example:end -->
EXAMPLE = re.compile(
    r"<!-- example:begin (?P<path>\S+) -->\n```yaml\n(?P<text>.*?)```\n<!-- example:end -->", re.DOTALL
)
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<rest>.*)$")
DOC_LINE = re.compile(r"^ *# -- (?P<text>.+)$")


@dataclass(frozen=True)
class Entry:
    path: str
    description: str
    default: Any


def lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def entries(values_file: Path = CHART / "values.yaml") -> list[Entry]:
    """Keys preceded by a `# --` line, with their full dotted path and default from the parsed YAML."""
    text = values_file.read_text()
    values = yaml.safe_load(text)
    stack: list[tuple[int, str]] = []
    pending: str | None = None
    out = []
    for line in text.splitlines():
        doc = DOC_LINE.match(line)
        if doc:
            pending = doc.group("text")
            continue
        match = KEY_LINE.match(line)
        if not match or line.lstrip().startswith("- "):
            continue
        indent = len(match.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [match.group("key")])
        if pending is not None:
            out.append(Entry(path, pending, lookup(values, path)))
            pending = None
        stack.append((indent, match.group("key")))
    return out


def leaves(node: Any, prefix: str = "") -> list[str]:
    """Paths of every value a user can set: scalars, lists and empty maps."""
    if isinstance(node, dict) and node:
        return [p for k, v in node.items() for p in leaves(v, f"{prefix}.{k}" if prefix else k)]
    return [prefix]


def undocumented(values_file: Path = CHART / "values.yaml") -> list[str]:
    documented = {e.path for e in entries(values_file)}
    values = yaml.safe_load(values_file.read_text())

    def covered(path: str) -> bool:
        parts = path.split(".")
        return any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1))

    return [p for p in leaves(values) if not covered(p)]


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object"}[
        type(value)
    ]


def table(values_file: Path = CHART / "values.yaml") -> str:
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for e in entries(values_file):
        default = json.dumps(e.default, separators=(", ", ": ")).replace("|", r"\|")
        description = e.description.replace("|", r"\|")
        rows.append(f"| `{e.path}` | {type_name(e.default)} | `{default}` | {description} |")
    return "\n".join(rows)


def with_table(readme: str, generated: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{generated}\n{END}{tail}"


def examples(readme: str) -> dict[str, str]:
    """The README's example values files: chart-relative path -> the text shown."""
    return {m.group("path"): m.group("text") for m in EXAMPLE.finditer(readme)}


def with_examples(readme: str) -> str:
    """The README with every example block replaced by the current content of its file."""

    def current(match: re.Match[str]) -> str:
        path = match.group("path")
        return (
            f"<!-- example:begin {path} -->\n```yaml\n{(CHART / path).read_text()}```\n<!-- example:end -->"
        )

    return EXAMPLE.sub(current, readme)


def main() -> int:
    readme = CHART / "README.md"
    missing = undocumented()
    if missing:
        print("values without a `# --` comment: " + ", ".join(missing), file=sys.stderr)
        return 1
    if "--write" in sys.argv:
        readme.write_text(with_examples(with_table(readme.read_text(), table())))
        print(f"wrote the values table and the example values of {readme}")
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
