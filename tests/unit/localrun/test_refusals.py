"""The runner refuses, by name, every kind and field it cannot honour (no engine needed)."""

import pytest

from mlops_stack.localrun import admission
from mlops_stack.localrun.errors import LocalRunError, Refused
from mlops_stack.localrun.manifests import build_release, parse
from mlops_stack.localrun.workloads import plan

from .manifests import container, deployment, service

IMAGE = "toolbox"


def refusal(docs: list[dict]) -> list[str]:
    with pytest.raises(Refused) as caught:
        admission.check(build_release(docs))
    return caught.value.reasons


def test_network_policy_is_refused_with_what_to_do() -> None:
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db"}}
    assert refusal([policy]) == [
        "NetworkPolicy/db: Docker cannot enforce pod-level network policies; render with the chart's "
        "NetworkPolicy disabled for local use (the local stack is on one private network)"
    ]


def test_unknown_kind_is_refused() -> None:
    reasons = refusal([{"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "x"}}])
    assert reasons == ["Endpoints/x: kind Endpoints is not supported by the local runner"]


def cronjob(name: str, containers: list[dict], **job_spec: object) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": "45 3 * * *",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "metadata": {"labels": {"app": name}},
                "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                                                                  "containers": containers}}, **job_spec},
            },
        },
    }  # fmt: skip


def test_a_cronjob_is_admitted_unscheduled_with_how_to_run_it() -> None:
    notes = admission.check(build_release([cronjob("gc", [container("c", IMAGE, "true")])]))
    assert notes == [
        "CronJob/gc: not scheduled (no scheduler locally); run it now with "
        "`python -m mlops_stack.localrun create-job --from cronjob/gc`"
    ]
    assert plan(build_release([cronjob("gc", [container("c", IMAGE, "true")])]), {}, "ns") == ([], [])


def test_a_cronjobs_job_template_is_checked_like_a_job() -> None:
    bad = cronjob("gc", [container("c", IMAGE, "true", lifecycle={"preStop": {}})], parallelism=2)
    assert refusal([bad]) == [
        "CronJob/gc.spec.jobTemplate.spec.parallelism: only 1 (one pod at a time)",
        "CronJob/gc.spec.jobTemplate.spec.template.spec.containers[c].lifecycle: not supported by the local "
        "runner",
    ]


def test_every_unsupported_field_is_named_with_its_path() -> None:
    web = deployment(
        "web",
        {"app": "web"},
        [
            container(
                "c",
                IMAGE,
                "true",
                lifecycle={"preStop": {}},
                volumeMounts=[
                    {"name": "cfg", "mountPath": "/c/file", "subPath": "../file"},
                    {"name": "cfg", "mountPath": "/c/abs", "subPath": "/etc"},
                ],
            )
        ],
        volumes=[{"name": "host", "hostPath": {"path": "/etc"}}, {"name": "cfg", "configMap": {"name": "c"}}],
        hostNetwork=True,
    )
    assert refusal([web]) == [
        "Deployment/web.spec.template.spec.hostNetwork: must be false: pods are isolated from the host and "
        "each other",
        "Deployment/web.spec.template.spec.volumes[host]: volume type ['hostPath'] is not supported "
        "(supported: ['configMap', 'emptyDir', 'persistentVolumeClaim', 'secret'])",
        "Deployment/web.spec.template.spec.containers[c].lifecycle: not supported by the local runner",
        "Deployment/web.spec.template.spec.containers[c].volumeMounts[cfg].subPath: '../file' must be a "
        "relative path inside the volume, without '..'",
        "Deployment/web.spec.template.spec.containers[c].volumeMounts[cfg].subPath: '/etc' must be a "
        "relative path inside the volume, without '..'",
    ]


def test_privileged_and_unenforceable_resources_are_refused() -> None:
    web = deployment(
        "web",
        {"app": "web"},
        [
            container(
                "c",
                IMAGE,
                "true",
                securityContext={"privileged": True},
                resources={"limits": {"ephemeral-storage": "1Gi", "memory": "64Mi"}},
            )
        ],
    )
    assert refusal([web]) == [
        "Deployment/web.spec.template.spec.containers[c].securityContext.privileged: privileged containers "
        "are never run",
        "Deployment/web.spec.template.spec.containers[c].resources.limits.ephemeral-storage: only cpu and "
        "memory can be enforced",
    ]


def test_moot_fields_are_accepted_and_moot_kinds_are_noted() -> None:
    web = deployment(
        "web",
        {"app": "web"},
        [container("c", IMAGE, "true", imagePullPolicy="Always")],
        affinity={},
        tolerations=[],
    )
    web["spec"]["strategy"] = {"type": "RollingUpdate"}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"}}
    assert admission.check(build_release([web, pdb])) == [
        "PodDisruptionBudget/web: one engine never evicts pods"
    ]


def test_service_that_remaps_ports_is_refused() -> None:
    web = deployment(
        "web",
        {"app": "web"},
        [container("c", IMAGE, "true", ports=[{"name": "http", "containerPort": 8080}])],
    )
    with pytest.raises(Refused) as caught:
        plan(build_release([web, service("web", {"app": "web"}, 80, "http")]), {}, "default")
    assert caught.value.reasons == [
        "Service/web: port 80 -> targetPort http (8080): Service names are DNS aliases locally and cannot "
        "remap ports; make port and targetPort equal"
    ]


def test_publishing_an_unknown_service_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        plan(build_release([]), {"mlflow": {5000: ("127.0.0.1", 5000)}}, "default")
    assert caught.value.reasons == ["publish mlflow: no such Service among the rendered manifests ([])"]


def test_invalid_yaml_is_reported() -> None:
    with pytest.raises(LocalRunError, match="not valid YAML"):
        parse("kind: [unclosed")
