"""Admission: which manifests the runner accepts, and the refusal by name of everything else.

Run before any engine is asked for, it decides whether a release can be run here at all. Each level of a
manifest lists the fields the runner acts on (HONOURED) and the fields that have no effect on a single
local engine (MOOT, with the reason, e.g. scheduling constraints on one node). Any other field, or a value
the runner cannot reproduce, is refused with its full path, so a chart feature is never silently lost
between the cluster and the laptop.
"""

from typing import Any

from mlops_stack.localrun.errors import Refused
from mlops_stack.localrun.manifests import Manifest, Release, ref
from mlops_stack.localrun.security import FS_GROUP_CHANGE_POLICIES

# Kinds the runner refuses, with what to do instead.
REFUSED_KINDS = {
    "NetworkPolicy": "Docker cannot enforce pod-level network policies; render with the chart's "
    "NetworkPolicy disabled for local use (the local stack is on one private network)",
    "Route": "there is no router locally; services are published on 127.0.0.1 instead",
    "Ingress": "there is no ingress controller locally; services are published on 127.0.0.1 instead",
    "ServiceMonitor": "there is no Prometheus operator locally",
    "HorizontalPodAutoscaler": "there is no metrics server locally",
    "Role": "pods get no Kubernetes API locally",
    "RoleBinding": "pods get no Kubernetes API locally",
    "ClusterRole": "pods get no Kubernetes API locally",
    "ClusterRoleBinding": "pods get no Kubernetes API locally",
}
# Kinds with no effect on one engine.
MOOT_KINDS = {
    "PodDisruptionBudget": "one engine never evicts pods",
}
SUPPORTED_KINDS = {
    "Deployment", "StatefulSet", "Job", "CronJob", "Pod", "Service", "Secret", "ConfigMap",
    "PersistentVolumeClaim", "ServiceAccount",
}  # fmt: skip

_SCHEDULING = "one node: scheduling constraints are met trivially"
_LOCAL_IMAGES = "images come from the local engine"
_NO_API = "pods get no Kubernetes API token locally"
_REPLACED = "the runner replaces a pod when its configuration changes"
_KEPT = "finished Job containers are kept until the next run of that Job or `down`"

TOP = {"apiVersion", "kind", "metadata", "spec"}
POD_SPEC = {
    "containers", "initContainers", "volumes", "securityContext", "restartPolicy",
    "terminationGracePeriodSeconds", "hostname", "subdomain", "automountServiceAccountToken",
    "serviceAccountName", "serviceAccount", "hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace",
}  # fmt: skip
POD_SPEC_MOOT = {
    "affinity": _SCHEDULING, "nodeSelector": _SCHEDULING, "tolerations": _SCHEDULING,
    "topologySpreadConstraints": _SCHEDULING, "priorityClassName": _SCHEDULING,
    "schedulerName": _SCHEDULING, "imagePullSecrets": _LOCAL_IMAGES,
    "enableServiceLinks": "Service environment variables are not injected; Service names resolve by DNS",
    "dnsPolicy": "Docker's embedded DNS resolves Service names",
}  # fmt: skip
POD_SC = {"runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "fsGroupChangePolicy", "supplementalGroups",
          "seccompProfile"}  # fmt: skip
CONTAINER = {
    "name", "image", "command", "args", "env", "envFrom", "ports", "volumeMounts", "securityContext",
    "resources", "readinessProbe", "startupProbe", "livenessProbe", "workingDir",
}  # fmt: skip
CONTAINER_MOOT = {
    "imagePullPolicy": _LOCAL_IMAGES,
    "terminationMessagePath": "termination messages are not collected; `docker logs` has the output",
    "terminationMessagePolicy": "termination messages are not collected; `docker logs` has the output",
}
CONTAINER_SC = {
    "runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem", "allowPrivilegeEscalation",
    "capabilities", "privileged", "seccompProfile",
}  # fmt: skip
PORT = {"containerPort", "name", "protocol"}
MOUNT = {"name", "mountPath", "readOnly", "subPath"}
RESOURCES = {"limits", "requests"}
RESOURCE_NAMES = {"cpu", "memory"}
PROBE = {"httpGet", "tcpSocket", "exec", "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
         "failureThreshold", "successThreshold"}  # fmt: skip
HTTP_GET = {"path", "port", "scheme", "httpHeaders"}
ENV = {"name", "value", "valueFrom"}
VALUE_FROM = {"secretKeyRef", "configMapKeyRef", "fieldRef"}
FIELD_PATHS = {"metadata.name", "metadata.namespace", "spec.serviceAccountName"}
ENV_FROM = {"secretRef", "configMapRef", "prefix"}
VOLUME_TYPES = {"secret", "configMap", "emptyDir", "persistentVolumeClaim"}
SECRET_VOLUME = {"secretName", "items", "defaultMode", "optional"}
CONFIGMAP_VOLUME = {"name", "items", "defaultMode", "optional"}
ITEM = {"key", "path", "mode"}
EMPTY_DIR = {"medium", "sizeLimit"}
PVC_VOLUME = {"claimName", "readOnly"}
DEPLOYMENT = {"replicas", "selector", "template"}
DEPLOYMENT_MOOT = {"strategy": _REPLACED, "revisionHistoryLimit": _REPLACED,
                   "progressDeadlineSeconds": "the runner has its own --timeout",
                   "minReadySeconds": "a pod counts as available once ready"}  # fmt: skip
STATEFULSET = {"replicas", "selector", "template", "serviceName", "volumeClaimTemplates"}
STATEFULSET_MOOT = {"podManagementPolicy": "pods of a StatefulSet start in ordinal order, each awaited ready",
                    "updateStrategy": _REPLACED, "revisionHistoryLimit": _REPLACED,
                    "persistentVolumeClaimRetentionPolicy": "claims are removed only by `clean`",
                    "minReadySeconds": "a pod counts as available once ready"}  # fmt: skip
JOB = {"template", "backoffLimit", "activeDeadlineSeconds", "completions", "parallelism"}
JOB_MOOT = {"ttlSecondsAfterFinished": _KEPT}
# A CronJob is admitted but never scheduled: `create-job --from cronjob/NAME` runs its jobTemplate once.
CRONJOB = {"schedule", "jobTemplate"}
_UNSCHEDULED = "the local engine has no scheduler; `create-job --from cronjob/NAME` runs the job"
CRONJOB_MOOT = {key: _UNSCHEDULED for key in (
    "timeZone", "concurrencyPolicy", "successfulJobsHistoryLimit", "failedJobsHistoryLimit",
    "startingDeadlineSeconds", "suspend",
)}  # fmt: skip
SERVICE = {"selector", "ports", "type", "clusterIP"}
SERVICE_MOOT = {"sessionAffinity": "one engine", "ipFamilyPolicy": "one engine", "ipFamilies": "one engine",
                "internalTrafficPolicy": "one engine"}  # fmt: skip
SERVICE_PORT = {"name", "port", "targetPort", "protocol"}
SERVICE_PORT_MOOT = {"appProtocol": "informational"}
PVC = {"accessModes", "resources", "storageClassName", "volumeMode"}
SERVICE_ACCOUNT_TOP = {"apiVersion", "kind", "metadata", "automountServiceAccountToken", "imagePullSecrets"}
SECRET_TOP = {"apiVersion", "kind", "metadata", "type", "data", "stringData", "immutable"}
CONFIGMAP_TOP = {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}


class _Checker:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def refuse(self, where: str, why: str) -> None:
        self.reasons.append(f"{where}: {why}")

    def fields(self, obj: Any, where: str, honoured: set[str], moot: dict[str, str] | None = None) -> None:
        if not isinstance(obj, dict):
            self.refuse(where, f"expected a mapping, got {type(obj).__name__}")
            return
        for key in obj:
            if key not in honoured and key not in (moot or {}):
                self.refuse(f"{where}.{key}", "not supported by the local runner")

    def pod_spec(self, spec: dict, where: str, claim_templates: tuple[str, ...] = ()) -> None:
        self.fields(spec, where, POD_SPEC, POD_SPEC_MOOT)
        for flag in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"):
            if spec.get(flag):
                self.refuse(
                    f"{where}.{flag}", "must be false: pods are isolated from the host and each other"
                )
        if spec.get("dnsPolicy", "ClusterFirst") != "ClusterFirst":
            self.refuse(f"{where}.dnsPolicy", "only ClusterFirst is reproduced")
        self._pod_security(spec.get("securityContext") or {}, f"{where}.securityContext")
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        volumes.update({name: {} for name in claim_templates})
        for i, volume in enumerate(spec.get("volumes") or []):
            self._volume(volume, f"{where}.volumes[{volume.get('name', i)}]")
        for kind in ("initContainers", "containers"):
            for container in spec.get(kind) or []:
                cwhere = f"{where}.{kind}[{container.get('name')}]"
                self._container(container, cwhere, volumes, init=kind == "initContainers")

    def _pod_security(self, sc: dict, where: str) -> None:
        self.fields(sc, where, POD_SC)
        if sc.get("fsGroupChangePolicy", "Always") not in FS_GROUP_CHANGE_POLICIES:
            self.refuse(f"{where}.fsGroupChangePolicy", f"only {' or '.join(FS_GROUP_CHANGE_POLICIES)}")
        self._seccomp(sc.get("seccompProfile"), f"{where}.seccompProfile")

    def _sub_path(self, sub_path: object, where: str) -> None:
        """The API server's rule (ValidateSubPath): a relative path without `..`; empty means none."""
        if not isinstance(sub_path, str):
            self.refuse(where, f"expected a string, got {type(sub_path).__name__}")
        elif sub_path.startswith("/") or ".." in sub_path.split("/"):
            self.refuse(where, f"{sub_path!r} must be a relative path inside the volume, without '..'")

    def _seccomp(self, profile: dict | None, where: str) -> None:
        if profile and profile.get("type") not in ("RuntimeDefault", "Unconfined"):
            self.refuse(f"{where}.type", "only RuntimeDefault (Docker's default profile) or Unconfined")

    def _volume(self, volume: dict, where: str) -> None:
        types = [k for k in volume if k != "name"]
        if len(types) != 1 or types[0] not in VOLUME_TYPES:
            self.refuse(where, f"volume type {types} is not supported (supported: {sorted(VOLUME_TYPES)})")
            return
        kind = types[0]
        body = volume[kind] or {}
        honoured = {
            "secret": SECRET_VOLUME,
            "configMap": CONFIGMAP_VOLUME,
            "emptyDir": EMPTY_DIR,
            "persistentVolumeClaim": PVC_VOLUME,
        }[kind]
        self.fields(body, f"{where}.{kind}", honoured)
        for i, item in enumerate(body.get("items") or []):
            self.fields(item, f"{where}.{kind}.items[{i}]", ITEM)
        if kind == "emptyDir" and body.get("medium", "") not in ("", "Memory"):
            self.refuse(f"{where}.emptyDir.medium", "only '' (disk) or Memory")

    def _container(self, c: dict, where: str, volumes: dict, init: bool) -> None:
        self.fields(c, where, CONTAINER, CONTAINER_MOOT)
        if init:
            for probe in ("readinessProbe", "startupProbe", "livenessProbe"):
                if probe in c:
                    self.refuse(f"{where}.{probe}", "init containers cannot have probes")
        sc = c.get("securityContext") or {}
        self.fields(sc, f"{where}.securityContext", CONTAINER_SC)
        if sc.get("privileged"):
            self.refuse(f"{where}.securityContext.privileged", "privileged containers are never run")
        self.fields(sc.get("capabilities") or {}, f"{where}.securityContext.capabilities", {"add", "drop"})
        self._seccomp(sc.get("seccompProfile"), f"{where}.securityContext.seccompProfile")
        for port in c.get("ports") or []:
            self.fields(port, f"{where}.ports[{port.get('name', port.get('containerPort'))}]", PORT)
        for mount in c.get("volumeMounts") or []:
            mwhere = f"{where}.volumeMounts[{mount.get('name')}]"
            self.fields(mount, mwhere, MOUNT)
            if mount.get("name") not in volumes:
                self.refuse(mwhere, "names no volume of the pod")
            if "subPath" in mount:
                self._sub_path(mount["subPath"], f"{mwhere}.subPath")
        resources = c.get("resources") or {}
        self.fields(resources, f"{where}.resources", RESOURCES)
        for part in ("limits", "requests"):
            for name in resources.get(part) or {}:
                if name not in RESOURCE_NAMES:
                    self.refuse(f"{where}.resources.{part}.{name}", "only cpu and memory can be enforced")
        for probe in ("readinessProbe", "startupProbe", "livenessProbe"):
            if probe in c:
                self._probe(c[probe], f"{where}.{probe}")
        for env in c.get("env") or []:
            self._env(env, f"{where}.env[{env.get('name')}]")
        for i, env_from in enumerate(c.get("envFrom") or []):
            self.fields(env_from, f"{where}.envFrom[{i}]", ENV_FROM)

    def _probe(self, probe: dict, where: str) -> None:
        self.fields(probe, where, PROBE)
        handlers = [k for k in ("httpGet", "tcpSocket", "exec") if k in probe]
        if len(handlers) != 1:
            self.refuse(where, "needs exactly one of httpGet, tcpSocket, exec")
        if "httpGet" in probe:
            self.fields(probe["httpGet"], f"{where}.httpGet", HTTP_GET)
        if "tcpSocket" in probe:
            self.fields(probe["tcpSocket"], f"{where}.tcpSocket", {"port"})
        if "exec" in probe:
            self.fields(probe["exec"], f"{where}.exec", {"command"})

    def _env(self, env: dict, where: str) -> None:
        self.fields(env, where, ENV)
        source = env.get("valueFrom")
        if source is None:
            return
        self.fields(source, f"{where}.valueFrom", VALUE_FROM)
        for key in ("secretKeyRef", "configMapKeyRef"):
            if key in source:
                self.fields(source[key], f"{where}.valueFrom.{key}", {"name", "key", "optional"})
        field_ref = source.get("fieldRef")
        if field_ref is not None:
            self.fields(field_ref, f"{where}.valueFrom.fieldRef", {"fieldPath", "apiVersion"})
            path = str(field_ref.get("fieldPath", ""))
            if path not in FIELD_PATHS and not path.startswith(("metadata.labels[", "metadata.annotations[")):
                self.refuse(
                    f"{where}.valueFrom.fieldRef.fieldPath", f"{path!r} is not known before the pod runs"
                )

    def selector(self, spec: dict, where: str) -> None:
        selector = spec.get("selector") or {}
        self.fields(selector, f"{where}.selector", {"matchLabels"})
        labels = (spec.get("template", {}).get("metadata") or {}).get("labels") or {}
        for key, value in (selector.get("matchLabels") or {}).items():
            if labels.get(key) != value:
                self.refuse(f"{where}.selector", f"matchLabels {key}={value} does not match the pod template")

    def workload(self, m: Manifest, where: str) -> None:
        kind, spec = m["kind"], m.get("spec") or {}
        self.fields(m, where, TOP)
        if kind == "Deployment":
            self.fields(spec, f"{where}.spec", DEPLOYMENT, DEPLOYMENT_MOOT)
            self.selector(spec, f"{where}.spec")
        elif kind == "StatefulSet":
            self.fields(spec, f"{where}.spec", STATEFULSET, STATEFULSET_MOOT)
            self.selector(spec, f"{where}.spec")
            for tpl in spec.get("volumeClaimTemplates") or []:
                self._pvc_spec(tpl.get("spec") or {}, f"{where}.spec.volumeClaimTemplates[{ref(tpl)}]")
        elif kind == "Job":
            self._job_spec(spec, f"{where}.spec")
        elif kind == "CronJob":
            self.fields(spec, f"{where}.spec", CRONJOB, CRONJOB_MOOT)
            job_template = spec.get("jobTemplate") or {}
            self.fields(job_template, f"{where}.spec.jobTemplate", {"metadata", "spec"})
            where, spec = f"{where}.spec.jobTemplate", job_template.get("spec") or {}
            self._job_spec(spec, f"{where}.spec")
        if kind == "Pod":
            self.pod_spec(spec, f"{where}.spec")
            return
        template = spec.get("template") or {}
        self.fields(template, f"{where}.spec.template", {"metadata", "spec"})
        claims = tuple(t["metadata"]["name"] for t in spec.get("volumeClaimTemplates") or [])
        self.pod_spec(template.get("spec") or {}, f"{where}.spec.template.spec", claims)

    def _job_spec(self, spec: dict, where: str) -> None:
        self.fields(spec, where, JOB, JOB_MOOT)
        for one in ("completions", "parallelism"):
            if spec.get(one, 1) != 1:
                self.refuse(f"{where}.{one}", "only 1 (one pod at a time)")

    def _pvc_spec(self, spec: dict, where: str) -> None:
        self.fields(spec, where, PVC)
        if spec.get("volumeMode", "Filesystem") != "Filesystem":
            self.refuse(f"{where}.volumeMode", "only Filesystem")

    def service(self, m: Manifest, where: str) -> None:
        self.fields(m, where, TOP)
        spec = m.get("spec") or {}
        self.fields(spec, f"{where}.spec", SERVICE, SERVICE_MOOT)
        if spec.get("type", "ClusterIP") != "ClusterIP":
            self.refuse(
                f"{where}.spec.type", "only ClusterIP; the runner publishes ports on 127.0.0.1 itself"
            )
        if not spec.get("selector"):
            self.refuse(
                f"{where}.spec.selector", "a Service without selector needs Endpoints, not reproduced"
            )
        for port in spec.get("ports") or []:
            self.fields(port, f"{where}.spec.ports[{port.get('name', port.get('port'))}]", SERVICE_PORT,
                        SERVICE_PORT_MOOT)  # fmt: skip

    def manifest(self, m: Manifest) -> None:
        kind, where = m["kind"], ref(m)
        if kind in REFUSED_KINDS:
            self.refuse(where, REFUSED_KINDS[kind])
        elif kind in MOOT_KINDS:
            return
        elif kind not in SUPPORTED_KINDS:
            self.refuse(where, f"kind {kind} is not supported by the local runner")
        elif kind in ("Deployment", "StatefulSet", "Job", "CronJob", "Pod"):
            self.workload(m, where)
        elif kind == "Service":
            self.service(m, where)
        elif kind == "PersistentVolumeClaim":
            self.fields(m, where, TOP)
            self._pvc_spec(m.get("spec") or {}, f"{where}.spec")
        elif kind == "ServiceAccount":
            self.fields(m, where, SERVICE_ACCOUNT_TOP)
        elif kind == "Secret":
            self.fields(m, where, SECRET_TOP)
        elif kind == "ConfigMap":
            self.fields(m, where, CONFIGMAP_TOP)


def check(release: Release) -> list[str]:
    """Raise `Refused` naming every unsupported kind and field; return notes on what is moot."""
    checker = _Checker()
    for m in release.objects + [h.manifest for h in release.hooks]:
        checker.manifest(m)
    if checker.reasons:
        raise Refused(checker.reasons)
    notes = [f"{ref(m)}: {MOOT_KINDS[m['kind']]}" for m in release.objects if m["kind"] in MOOT_KINDS]
    return notes + [
        f"{ref(m)}: not scheduled (no scheduler locally); run it now with "
        f"`python -m mlops_stack.localrun create-job --from cronjob/{m['metadata']['name']}`"
        for m in release.of_kind("CronJob")
    ]
