"""`up`, `down`, `clean` and `test` of a rendered release, in Helm's order.

`up` is `helm upgrade --install --wait`: pre-install (first time) or pre-upgrade hooks in weight order, then
the release's pods (unchanged pods are left running), Jobs run to completion, everything awaited ready,
then the post- hooks. The revision in the state directory decides install versus upgrade.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlops_stack.localrun import admission, pod_engine, readiness, workloads
from mlops_stack.localrun.engine import Engine
from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.manifests import Hook, Manifest, Release, build_release, ref
from mlops_stack.localrun.plan import PodPlan, plan_pod
from mlops_stack.localrun.state import State
from mlops_stack.localrun.workloads import Pod

DEFAULT_BACKOFF_LIMIT = 6  # Kubernetes' default for Jobs


class Runner:
    def __init__(
        self,
        project: str,
        state_dir: Path,
        namespace: str = "default",
        timeout: float = 600.0,
        report: Callable[[str], None] = print,
        engine: Engine | None = None,
    ) -> None:
        self.engine = engine or Engine(project)
        self.state = State(state_dir)
        self.namespace = namespace
        self.timeout = timeout
        self.report = report

    def _plan(self, release: Release, pod: Pod) -> PodPlan:
        return plan_pod(pod, release, self.engine.project, self.engine.image_id)

    # ---- up
    def refuse_data_without_its_secrets(self) -> None:
        """Data volumes of this project but no generated secrets in the state directory: refuse.

        The databases on those volumes were made with passwords this state directory no longer holds (it
        was deleted, or this is another checkout), so a new set would be generated and every login of the
        stack would fail. On a cluster the Secrets live beside the data; here they live in the state dir.
        """
        claims = self.engine.volume_names("claim")
        if claims and not self.state.has_generated():
            raise LocalRunError(
                f"the Docker engine holds data volumes of project {self.engine.project!r} "
                f"({', '.join(sorted(claims))}) but {self.state.directory} has none of the passwords they "
                "were made with (generated-secrets.json is missing), so the stack would refuse every login.\n"
                f"  keep the data: put back the state directory that made them (e.g. from another checkout)\n"
                f"  start over:    `make clean FORCE=1` removes those volumes (all runs, models and data)\n"
                f"  both:          run this stack under another name, e.g. `PROJECT=mlops-stack-2 make up`"
            )

    def up(self, docs: list[Manifest], publish: workloads.Publish | None = None) -> str:
        """Install or upgrade; returns which one it was."""
        release = build_release(docs)
        for note in admission.check(release):
            self.report(f"note: {note}")
        running, jobs = workloads.plan(release, publish or {}, self.namespace)
        prepared = [self._plan(release, p) for p in running]
        prepared_jobs = [self._plan(release, p) for p in jobs]
        action = "upgrade" if self.state.revision > 0 else "install"
        deadline = time.monotonic() + self.timeout
        self.engine.ensure_network()
        if action == "upgrade":
            self._resume_previous(publish or {}, deadline)
        self._run_hooks(release, f"pre-{action}", deadline)
        hook_pods = {self.engine.name(h.name) for h in release.hooks}
        self._remove_orphans({p.docker_name for p in prepared + prepared_jobs} | hook_pods)
        self._start_all(prepared, deadline)
        for job in prepared_jobs:
            self._run_job(job, deadline)
        self._run_hooks(release, f"post-{action}", deadline)
        self.state.record_release(docs, publish)
        self.state.record_revision(self.state.revision + 1)
        self.report(f"{action} complete: {len(prepared)} pod(s) ready, {len(prepared_jobs)} job(s) succeeded")
        return action

    def _resume_previous(self, publish: workloads.Publish, deadline: float) -> None:
        """After `down`, start the last revision's pods again before upgrading.

        On a cluster the previous revision keeps running while `helm upgrade` runs its pre-upgrade hooks
        (the database migration needs the database); `down` stopped it here, so it is brought back first.
        Pods that the upgrade does not change are then simply left running.
        """
        if any(c.status == "running" for c in self.engine.containers(role="pause")):
            return
        previous = self.state.last_release()
        if not previous:
            return
        self.report(f"resuming revision {self.state.revision} first, as a cluster would still be running it")
        release = build_release(previous)
        running, _ = workloads.plan(release, publish, self.namespace)
        self._start_all([self._plan(release, p) for p in running], deadline)

    def _remove_orphans(self, wanted: set[str]) -> None:
        for pod in sorted(self.engine.pods() - wanted):
            self.report(f"removing pod {pod}: no longer in the release")
            self.engine.stop_pod(pod)

    def _start_all(self, prepared: list[PodPlan], deadline: float) -> None:
        # Pods of one StatefulSet start one after the other (OrderedReady); everything else in parallel.
        groups: dict[str, list[PodPlan]] = {}
        for item in prepared:
            ordered = item.owner.startswith("StatefulSet/")
            key = item.owner if ordered else item.docker_name
            groups.setdefault(key, []).append(item)

        def bring_up(group: list[PodPlan]) -> None:
            for item in group:
                if pod_engine.is_current(self.engine, item):
                    self.report(f"pod {item.docker_name}: unchanged, left running")
                else:
                    self.report(f"pod {item.docker_name}: starting")
                    pod_engine.start(self.engine, item, deadline, self.report)
                started = time.monotonic()
                readiness.wait_ready(self.engine, item, deadline, self.report)
                self.report(f"pod {item.docker_name}: ready ({time.monotonic() - started:.0f} s)")

        errors = []
        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            futures = [pool.submit(bring_up, group) for group in groups.values()]
            for future in futures:
                try:
                    future.result()
                except LocalRunError as exc:
                    errors.append(str(exc))
        if errors:
            raise LocalRunError("\n".join(errors))

    def _run_job(self, job: PodPlan, deadline: float) -> None:
        spec = job.controller
        attempts = int(spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT)) + 1
        if "activeDeadlineSeconds" in spec:
            deadline = min(deadline, time.monotonic() + float(spec["activeDeadlineSeconds"]))
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                self._run_to_completion(job, deadline)
                self.report(f"job {job.docker_name}: succeeded ({time.monotonic() - started:.0f} s)")
                return
            except LocalRunError as exc:
                if attempt == attempts or time.monotonic() > deadline:
                    raise LocalRunError(f"{job.owner} failed after {attempt} attempt(s):\n{exc}") from None
                backoff = min(10.0 * 2 ** (attempt - 1), 60.0)
                self.report(f"job {job.docker_name}: attempt {attempt} failed; retrying in {backoff:.0f} s")
                time.sleep(backoff)

    def _run_to_completion(self, job: PodPlan, deadline: float) -> None:
        pod_engine.start(self.engine, job, deadline, self.report)
        readiness.wait_completed(self.engine, job, deadline)

    def _run_hooks(self, release: Release, point: str, deadline: float) -> None:
        for hook in release.hooks_at(point):
            kind = hook.manifest["kind"]
            if kind in ("Secret", "ConfigMap", "ServiceAccount"):
                continue  # data the hook pods read; already part of the release's Secrets and ConfigMaps
            if kind not in ("Job", "Pod"):
                raise LocalRunError(
                    f"{ref(hook.manifest)}: a {kind} hook is not supported by the local runner"
                )
            self._run_hook(release, hook, point, deadline)

    def _run_hook(self, release: Release, hook: Hook, point: str, deadline: float) -> None:
        (pod,) = workloads.pods_of(hook.manifest, self.namespace)
        workloads.attach_services([pod], release.of_kind("Service"), {}, self.namespace)
        job = self._plan(release, pod)
        self.report(f"hook {point} {ref(hook.manifest)} (weight {hook.weight}): running")
        try:
            if hook.manifest["kind"] == "Pod":
                self._run_to_completion(job, deadline)
            else:
                self._run_job(job, deadline)
        except LocalRunError:
            if "hook-failed" in hook.delete_policies:
                self.engine.stop_pod(job.docker_name)
            raise
        if "hook-succeeded" in hook.delete_policies:
            self.engine.stop_pod(job.docker_name)

    # ---- create-job
    def create_job(self, cronjob: str, name: str | None = None, env: dict[str, str] | None = None) -> str:
        """`kubectl create job --from=cronjob/CRONJOB`: run the CronJob's jobTemplate once, now, beside the
        release `up` applied last (the runner has no scheduler). Returns the Job's name."""
        release = build_release(self.state.last_release())
        cronjobs = {m["metadata"]["name"]: m for m in release.of_kind("CronJob")}
        if cronjob not in cronjobs:
            raise LocalRunError(
                f"no CronJob {cronjob!r} in the release last applied from {self.state.directory} "
                f"(CronJobs there: {', '.join(sorted(cronjobs)) or 'none'}; run `up` first)"
            )
        job = workloads.job_from_cronjob(cronjobs[cronjob], name)
        if env:
            workloads.set_env(job, env)
        (pod,) = workloads.pods_of(job, self.namespace)
        workloads.attach_services([pod], release.of_kind("Service"), {}, self.namespace)
        plan = self._plan(release, pod)
        self.report(f"job {plan.docker_name}: from {ref(cronjobs[cronjob])}")
        self._run_job(plan, time.monotonic() + self.timeout)
        # What `kubectl logs job/NAME --all-containers` shows: the job's own account of what it did.
        for role in ("init", "main"):
            for container in self.engine.containers(pod=plan.docker_name, role=role):
                for line in container.logs().decode(errors="replace").splitlines():
                    self.report(f"  {container.name}| {line}")
        return str(job["metadata"]["name"])

    # ---- stop / start: `kubectl scale --replicas=0` and back, for the restore (no writer while it runs)
    def _owned_plans(self, owners: list[str], if_present: bool = False) -> list[PodPlan]:
        release = build_release(self.state.last_release())
        running, _ = workloads.plan(release, self.state.last_publish(), self.namespace)
        known = {p.owner for p in running}
        unknown = [o for o in owners if o not in known]
        if unknown and if_present:
            self.report(f"not in the release, skipped: {', '.join(unknown)}")
        elif unknown:
            raise LocalRunError(
                f"{', '.join(unknown)}: not a Deployment or StatefulSet of the release last applied from "
                f"{self.state.directory} (there: {', '.join(sorted(known)) or 'none'}; run `up` first)"
            )
        return [self._plan(release, p) for p in running if p.owner in owners]

    def stop(self, owners: list[str], if_present: bool = False) -> list[str]:
        """Stop and remove the pods of these workloads (graceful stop first); returns their pod names."""
        names = [p.docker_name for p in self._owned_plans(owners, if_present)]
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            list(pool.map(self.engine.stop_pod, names))
        for name in names:
            self.report(f"pod {name}: stopped")
        return names

    def start(self, owners: list[str], if_present: bool = False) -> None:
        """Start the pods of these workloads again, as the last `up` applied them, and wait until ready."""
        self._start_all(self._owned_plans(owners, if_present), time.monotonic() + self.timeout)

    # ---- test
    def test(self, docs: list[Manifest]) -> int:
        """`helm test`: run the release's test hooks against the running pods; returns how many ran."""
        release = build_release(docs)
        admission.check(release)
        deadline = time.monotonic() + self.timeout
        hooks = release.hooks_at("test")
        for hook in hooks:
            self._run_hook(release, hook, "test", deadline)
        return len(hooks)

    # ---- down / clean
    def down(self) -> None:
        """Stop and remove every pod (graceful stop first); claims and the state directory stay."""
        pod_names = sorted(self.engine.pods())
        with ThreadPoolExecutor(max_workers=max(1, len(pod_names))) as pool:
            list(pool.map(self.engine.stop_pod, pod_names))
        for leftover in self.engine.volume_names("pod"):  # of a pod whose removal was interrupted
            self.engine.remove_volume(leftover)
        self.engine.remove_network()
        kept = ", ".join(self.engine.volume_names("claim")) or "none"
        self.report(f"stopped {len(pod_names)} pod(s); data volumes kept: {kept}")

    def clean(self, keep_claims: tuple[str, ...] = (), keep_secrets: tuple[str, ...] = ()) -> list[str]:
        """`down`, then remove the claims' volumes and forget the revision and the generated secrets, except
        the claims and Secrets named to be kept (the backups and their password: scripts/stack-clean)."""
        self.down()
        kept = {self.engine.name(claim) for claim in keep_claims}
        removed = []
        for name in self.engine.volume_names():
            if name in kept:
                self.report(f"volume {name}: kept")
                continue
            self.engine.remove_volume(name)
            removed.append(name)
        self.state.forget(keep_secrets)
        return removed
