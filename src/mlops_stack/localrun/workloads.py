"""Controllers, reduced to what they decide: which pods exist, their names, aliases and claims."""

from dataclasses import dataclass, field

from mlops_stack.localrun.errors import Refused
from mlops_stack.localrun.manifests import Manifest, Release, ref
from mlops_stack.localrun.probes import named_ports, resolve_port

# Service port -> where to publish it on the host: {service name: {port: (address, host port)}}.
Publish = dict[str, dict[int, tuple[str, int]]]


@dataclass
class Pod:
    """A pod the runner will create, as the controller of its workload would (plan.py plans it)."""

    name: str
    owner: str
    template: dict
    namespace: str
    restart_policy: str
    aliases: list[str] = field(default_factory=list)
    publish: dict[int, tuple[str, int]] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)  # volume name -> claim name (volumeClaimTemplates)
    controller: dict = field(default_factory=dict)  # the workload's spec (a Job's backoffLimit, ...)

    @property
    def spec(self) -> dict:
        return self.template.get("spec") or {}

    @property
    def where(self) -> str:
        return f"{self.owner} pod {self.name}"


def _dns_names(name: str, namespace: str) -> list[str]:
    return [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]


def _labels(template: dict) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()}


def _selects(service: Manifest, labels: dict[str, str]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(labels.get(str(k)) == str(v) for k, v in selector.items())


def pods_of(manifest: Manifest, namespace: str) -> list[Pod]:
    """The pods a workload's controller would create (Deployments get stable names `<name>-<i>`)."""
    kind, name, spec = manifest["kind"], manifest["metadata"]["name"], manifest.get("spec") or {}
    owner = ref(manifest)
    if kind == "Pod":
        template = {"metadata": manifest["metadata"], "spec": spec}
        return [Pod(name, owner, template, namespace, spec.get("restartPolicy", "Always"))]
    template = spec["template"]
    restart = (template.get("spec") or {}).get("restartPolicy", "Always" if kind != "Job" else "Never")
    if kind == "Job":
        return [Pod(name, owner, template, namespace, restart, controller=spec)]
    pods = []
    for ordinal in range(int(spec.get("replicas", 1))):
        pod_name = f"{name}-{ordinal}"
        pod = Pod(pod_name, owner, template, namespace, restart)
        if kind == "StatefulSet":
            service = spec.get("serviceName")
            if service:
                pod.aliases += _dns_names(f"{pod_name}.{service}", namespace)
            for claim in spec.get("volumeClaimTemplates") or []:
                claim_name = claim["metadata"]["name"]
                pod.claims[claim_name] = f"{claim_name}-{pod_name}"
            if pod.claims:
                volumes = list((template.get("spec") or {}).get("volumes") or [])
                volumes += [
                    {"name": v, "persistentVolumeClaim": {"claimName": c}} for v, c in pod.claims.items()
                ]
                pod.template = {**template, "spec": {**template["spec"], "volumes": volumes}}
        pods.append(pod)
    return pods


def job_from_cronjob(cronjob: Manifest, name: str | None = None) -> Manifest:
    """The Job `kubectl create job NAME --from=cronjob/CRONJOB` makes: the jobTemplate, named NAME
    (default `<cronjob>-manual`)."""
    template = cronjob["spec"]["jobTemplate"]
    metadata = template.get("metadata") or {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            **metadata,
            "name": name or f"{cronjob['metadata']['name']}-manual",
            "annotations": {
                **(metadata.get("annotations") or {}),
                "cronjob.kubernetes.io/instantiate": "manual",
            },
        },
        "spec": template["spec"],
    }


def set_env(job: Manifest, env: dict[str, str]) -> None:
    """`kubectl set env`: these variables in every container and init container of the Job's pod, replacing a
    variable of the same name."""
    spec = job["spec"]["template"]["spec"]
    for container in [*(spec.get("initContainers") or []), *spec["containers"]]:
        kept = [e for e in container.get("env") or [] if e["name"] not in env]
        container["env"] = kept + [{"name": k, "value": v} for k, v in env.items()]


def attach_services(pods: list[Pod], services: list[Manifest], publish: Publish, namespace: str) -> None:
    """Give each pod the DNS names of the Services that select it, and publish the chosen ports."""
    reasons: list[str] = []
    known = {s["metadata"]["name"] for s in services}
    for name in publish:
        if name not in known:
            reasons.append(f"publish {name}: no such Service among the rendered manifests ({sorted(known)})")
    for service in services:
        name = service["metadata"]["name"]
        chosen = [p for p in pods if _selects(service, _labels(p.template))]
        for pod in chosen:
            pod.aliases += _dns_names(name, namespace)
            ports = named_ports(pod.spec.get("containers") or [])
            for port in service["spec"].get("ports") or []:
                target = port.get("targetPort", port["port"])
                try:
                    number = resolve_port(target, ports, f"{ref(service)} port {port['port']}")
                except Exception as exc:
                    reasons.append(str(exc))
                    continue
                if number != int(port["port"]):
                    reasons.append(
                        f"{ref(service)}: port {port['port']} -> targetPort {target} ({number}): Service "
                        "names are DNS aliases locally and cannot remap ports; make port and targetPort equal"
                    )
        wanted = publish.get(name, {})
        for port, host in wanted.items():
            if not chosen:
                reasons.append(f"publish {name}:{port}: the Service selects no pod")
            elif port not in {int(p["port"]) for p in service["spec"].get("ports") or []}:
                reasons.append(f"publish {name}:{port}: the Service has no port {port}")
            else:
                chosen[0].publish[port] = host  # one host port can only go to one pod
    if reasons:
        raise Refused(reasons)


def plan(release: Release, publish: Publish, namespace: str) -> tuple[list[Pod], list[Pod]]:
    """(long-running pods, Job pods) of the release, services attached."""
    running: list[Pod] = []
    jobs: list[Pod] = []
    for manifest in release.objects:
        if manifest["kind"] in ("Deployment", "StatefulSet", "Pod"):
            running += pods_of(manifest, namespace)
        elif manifest["kind"] == "Job":
            jobs += pods_of(manifest, namespace)
    attach_services(running + jobs, release.of_kind("Service"), publish, namespace)
    return running, jobs
