"""Every rendered manifest validates strictly against the Kubernetes 1.28 to 1.33 schemas
(kubernetes-validate); the OpenShift Route and the ServiceMonitor against schemas kept in this repo."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import pytest

from .helm import CHART, CI_VALUES, MONITORING_APIS, OPENSHIFT_APIS, find, render

KUBERNETES_VERSIONS = ["1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]
SCHEMAS = Path(__file__).parent / "schemas"
EXTERNAL = CHART / "ci" / "external-database-values.yaml"
# Custom resources kubernetes-validate has no schema for: (apiVersion, kind) -> schema file.
CUSTOM = {
    ("route.openshift.io/v1", "Route"): SCHEMAS / "route-route-v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SCHEMAS / "servicemonitor-monitoring-v1.json",
}

# kubernetes-validate re-reads and re-parses the (large) schema files on every call; the files never
# change during a run, so read each once. Results are identical, the suite is 5x faster.
kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
    kubernetes_validate.utils.schema_contents
)


def validate(doc: dict[str, Any], version: str) -> None:
    schema_file = CUSTOM.get((doc["apiVersion"], doc["kind"]))
    if schema_file is not None:
        jsonschema.Draft202012Validator(json.loads(schema_file.read_text())).validate(doc)
    else:
        # Raises SchemaNotFoundError for an unknown kind, so nothing passes unchecked.
        kubernetes_validate.validate(doc, version, strict=True)


def renders() -> dict[str, list[dict[str, Any]]]:
    out = {"default": render(api_versions=MONITORING_APIS)}
    out["default-openshift-api"] = render(
        set_values=["route.host=mlflow.apps.example.com"], api_versions=OPENSHIFT_APIS
    )
    out["default-upgrade"] = render(is_upgrade=True)
    # The backup-restore pod, and the pre-upgrade dump pinned to its node.
    out["external-database-upgrade"] = render([EXTERNAL], is_upgrade=True)
    for f in CI_VALUES:
        out[f.name] = render([f], api_versions=MONITORING_APIS)
    return out


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_all_manifests_validate_strictly(version: str) -> None:
    failures = []
    checked = 0
    seen: set[str] = set()
    for name, docs in renders().items():
        for doc in docs:
            key = json.dumps(doc, sort_keys=True)
            if key in seen:  # identical in several renders: validated once
                continue
            seen.add(key)
            try:
                validate(doc, version)
                checked += 1
            except Exception as e:  # collect every failure, then report them together
                failures.append(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {e}")
    assert not failures, "\n".join(failures)
    assert checked >= 60


def test_custom_resources_are_rendered_and_checked() -> None:
    docs = renders()
    assert find(docs["openshift-values.yaml"], "Route", "mlflow")
    assert find(docs["default-openshift-api"], "Route", "mlflow")
    assert find(docs["kubernetes-ingress-values.yaml"], "ServiceMonitor", "mlflow")


def test_route_schema_rejects_a_bad_tls_termination() -> None:
    route = copy.deepcopy(
        find(render([Path(CI_VALUES[0]).parent / "openshift-values.yaml"]), "Route", "mlflow")
    )
    validate(route, "1.33")
    route["spec"]["tls"]["termination"] = "edge-ish"
    with pytest.raises(jsonschema.ValidationError, match="'edge-ish' is not one of"):
        validate(route, "1.33")


def test_strict_validation_rejects_an_unknown_field() -> None:
    """The strict schemas are in force: a typo in a Deployment fails."""
    deployment = copy.deepcopy(find(render(), "Deployment", "mlflow"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicey"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolicey"):
        kubernetes_validate.validate(deployment, "1.33", strict=True)
