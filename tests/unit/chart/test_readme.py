"""Every value is documented with a `# --` comment, and the README's values table is generated from them."""

from __future__ import annotations

import json

from .helm import CHART
from .values_doc import BEGIN, END, entries, table, undocumented


def test_every_value_has_a_doc_comment() -> None:
    assert undocumented() == []


def test_readme_values_table_is_up_to_date() -> None:
    readme = (CHART / "README.md").read_text()
    current = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert current == table(), "stale: run .venv/bin/python tests/unit/chart/values_doc.py --write"


def test_every_documented_value_is_in_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    for entry in entries():
        node = schema
        for part in entry.path.split("."):
            assert part in node.get("properties", {}), f"{entry.path} is not in values.schema.json"
            node = node["properties"][part]


def test_the_table_has_one_row_per_documented_value() -> None:
    rows = [line for line in table().splitlines()[2:]]
    assert len(rows) == len(entries()) >= 100
    assert "| `mlflow.replicas` | int | `1` | Number of MLflow server pods." in table()
