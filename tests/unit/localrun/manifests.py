"""Small hand-written manifests, as `helm template` would render them."""

import base64


def secret(name: str, **values: str) -> dict:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}


def configmap(name: str, **values: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": values}


def container(name: str, image: str, script: str, **extra: object) -> dict:
    return {"name": name, "image": image, "command": ["/bin/sh", "-c"], "args": [script], **extra}


def job(
    name: str,
    containers: list[dict],
    volumes: list[dict] | None = None,
    hook: str | None = None,
    weight: int = 0,
    **spec: object,
) -> dict:
    metadata: dict = {"name": name}
    if hook:
        metadata["annotations"] = {"helm.sh/hook": hook, "helm.sh/hook-weight": str(weight)}
    pod_spec: dict = {"restartPolicy": "Never", "containers": containers, **spec.pop("pod", {})}  # type: ignore[dict-item]
    if volumes:
        pod_spec["volumes"] = volumes
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}, **spec},
    }


def deployment(name: str, labels: dict, containers: list[dict], **pod: object) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers, **pod}},
        },
    }


def service(name: str, selector: dict, port: int, target: int | str | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"name": "p", "port": port, "targetPort": target or port}]},
    }


def claim(name: str, storage: str = "1Gi") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
    }
