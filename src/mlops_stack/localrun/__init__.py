"""Run `helm template` output on the local Docker engine, faithfully or not at all.

The runner exists so that the manifests which go to OpenShift are the ones tested on a laptop or in CI,
where no cluster can be had. It gives each pod an infra ("pause") container that owns the pod's network
namespace and memory-backed volumes, runs init containers in order, then the pod's containers, maps the
pod and container securityContext to Docker's user/read-only/capability options, mounts Secrets and
ConfigMaps as files, turns Services into DNS aliases on one private network, and waits for the probes.
A pod is planned from the manifests first (plan.py), then made on the engine (pod_engine.py); README.md
lists every module.

Anything it cannot honour (a kind, a field, a volume type) is refused by name: see `admission.py`.
"""

from mlops_stack.localrun.errors import LocalRunError, Refused

__all__ = ["LocalRunError", "Refused"]
