"""Every value is documented with a `# --` comment, the README's values table is generated from them, and
the README's install examples are the ci values files the chart tests render, verbatim."""

from __future__ import annotations

import json

import yaml

from .helm import CHART, CI_VALUES
from .values_doc import BEGIN, END, entries, examples, table, undocumented

# The README's OpenShift and plain-Kubernetes examples.
INSTALL_EXAMPLES = {"ci/openshift-values.yaml", "ci/kubernetes-ingress-values.yaml"}


def test_every_value_has_a_doc_comment() -> None:
    assert undocumented() == []


def test_readme_values_table_is_up_to_date() -> None:
    readme = (CHART / "README.md").read_text()
    current = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert current == table(), "stale: run make docs"


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


def test_readme_examples_are_the_tested_values_files() -> None:
    shown = examples((CHART / "README.md").read_text())
    assert set(shown) == INSTALL_EXAMPLES
    tested = {f"ci/{f.name}" for f in CI_VALUES}  # what lint, schema, kubernetes-validate, checkov render
    assert tested >= INSTALL_EXAMPLES
    for path, text in shown.items():
        assert text == (CHART / path).read_text(), f"{path}: stale, run make docs"


def test_readme_install_commands_use_the_example_files() -> None:
    readme = (CHART / "README.md").read_text()
    command = "helm install mlops charts/mlops-stack -n mlops --create-namespace --wait \\\n"
    for path in INSTALL_EXAMPLES:
        assert f"{command}  -f charts/mlops-stack/{path} " in readme, path


def test_the_plain_kubernetes_example_sets_ids_and_fs_group_and_openshift_leaves_them_to_the_scc() -> None:
    kubernetes = yaml.safe_load((CHART / "ci" / "kubernetes-ingress-values.yaml").read_text())
    assert kubernetes["podSecurity"] == {"runAsUser": 1001, "runAsGroup": 0, "fsGroup": 1001}
    assert "podSecurity" not in yaml.safe_load((CHART / "ci" / "openshift-values.yaml").read_text())
