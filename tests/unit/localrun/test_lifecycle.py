"""Helm's order on the engine: hooks by point and weight, install then upgrade, claims kept by `down`."""

import shutil

import docker
import pytest

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.runner import Runner

from .conftest import volume_file
from .manifests import container, deployment, job

pytestmark = pytest.mark.images

CLAIM = {"name": "data", "persistentVolumeClaim": {"claimName": "journal"}}
MOUNT = [{"name": "data", "mountPath": "/data"}]


def step(image: str, name: str, hook: str | None = None, weight: int = 0) -> dict:
    """A Job that appends its name to the journal on the shared claim."""
    writer = container("write", image, f"echo {name} >> /data/journal", volumeMounts=MOUNT)
    return job(name, [writer], [CLAIM], hook=hook, weight=weight)


def release(image: str) -> list[dict]:
    server = container(
        "server", image, "echo server-$(date +%s) >> /data/journal; exec sleep infinity", volumeMounts=MOUNT
    )
    return [
        step(image, "post-install", "post-install"),
        step(image, "pre-install-late", "pre-install", weight=5),
        step(image, "pre-install-early", "pre-install", weight=-5),
        step(image, "pre-upgrade", "pre-upgrade"),
        step(image, "post-upgrade", "post-upgrade"),
        deployment("app", {"app": "app"}, [server], volumes=[CLAIM], terminationGracePeriodSeconds=1),
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "journal"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    ]


def journal(client: docker.DockerClient, image: str, runner: Runner) -> list[str]:
    lines = volume_file(client, image, runner.engine.name("journal"), "journal").splitlines()
    return [line if not line.startswith("server-") else "server" for line in lines]


def test_hooks_install_upgrade_and_claims_across_down(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    assert runner.up(release(toolbox)) == "install"
    assert journal(docker_client, toolbox, runner) == [
        "pre-install-early",
        "pre-install-late",
        "server",
        "post-install",
    ]

    assert runner.up(release(toolbox)) == "upgrade"
    # The server pod is unchanged, so it keeps running; only the upgrade hooks run.
    assert journal(docker_client, toolbox, runner)[4:] == ["pre-upgrade", "post-upgrade"]

    runner.down()
    assert docker_client.containers.list(all=True, filters={"name": runner.engine.project}) == []
    assert runner.engine.volume_names() == [f"{runner.engine.project}-journal"]

    assert runner.up(release(toolbox)) == "upgrade"
    # As on a cluster, the pre-upgrade hooks run while the previous revision runs: `up` resumes it first.
    assert "resuming revision 2 first, as a cluster would still be running it" in runner.lines  # type: ignore[attr-defined]
    assert journal(docker_client, toolbox, runner)[4:] == [
        "pre-upgrade",
        "post-upgrade",
        "server",
        "pre-upgrade",
        "post-upgrade",
    ]

    # A new claim is setgid and group-writable, given to the pod's fsGroup: none is set in the manifest, so
    # restricted-v2's default (the namespace range's first value) applies, as on OpenShift.
    stat = docker_client.containers.run(
        toolbox,
        ["stat", "-c", "%a %u %g", "/v"],
        remove=True,
        volumes={runner.engine.name("journal"): {"bind": "/v"}},
    )
    assert stat.decode() == "2775 0 1000680000\n"

    removed = runner.clean()
    assert removed == [f"{runner.engine.project}-journal"]
    assert runner.engine.volume_names() == []
    assert runner.up(release(toolbox)) == "install"


def test_data_whose_secrets_are_gone_is_refused_by_name_and_kept(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    """A deleted state directory (or a new checkout) must not restart on the old data with new passwords."""
    docs = release(toolbox)
    runner.state.keep_generated(docs, None)
    runner.up(docs)
    runner.down()
    runner.refuse_data_without_its_secrets()  # its own state: accepted

    shutil.rmtree(runner.state.directory)
    volume = runner.engine.name("journal")
    with pytest.raises(LocalRunError) as refused:
        runner.refuse_data_without_its_secrets()
    assert str(refused.value).splitlines() == [
        f"the Docker engine holds data volumes of project {runner.engine.project!r} ({volume}) but "
        f"{runner.state.directory} has none of the passwords they were made with (generated-secrets.json is "
        "missing), so the stack would refuse every login.",
        "  keep the data: put back the state directory that made them (e.g. from another checkout)",
        "  start over:    `make clean FORCE=1` removes those volumes (all runs, models and data)",
        "  both:          run this stack under another name, e.g. `PROJECT=mlops-stack-2 make up`",
    ]
    assert journal(docker_client, toolbox, runner)[:2] == ["pre-install-early", "pre-install-late"]


def test_create_job_runs_a_cronjobs_job_template_beside_the_release(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    """`kubectl create job --from=cronjob/...`: the jobTemplate runs once, now, with the release's claims."""
    writer = container("write", toolbox, "echo collected >> /data/journal", volumeMounts=MOUNT)
    template = job("unused", [writer], [CLAIM])
    collect = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "collect"},
        "spec": {"schedule": "@daily", "jobTemplate": {"metadata": {"labels": {"app": "collect"}},
                                                       "spec": template["spec"]}},
    }  # fmt: skip
    docs = [*release(toolbox), collect]
    runner.up(docs)
    assert journal(docker_client, toolbox, runner)[-1] == "post-install"  # not scheduled by `up`
    assert runner.create_job("collect") == "collect-manual"
    assert journal(docker_client, toolbox, runner)[-1] == "collected"
    with pytest.raises(LocalRunError, match=r"no CronJob 'backup' in the release last applied from .* "
                       r"\(CronJobs there: collect; run `up` first\)"):  # fmt: skip
        runner.create_job("backup")


def test_a_pod_volume_held_by_another_container_stops_down_with_its_name(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second runner of the same project (or a container someone started on a pod's volume) must give
    `down` a message naming who holds the volume, not a Docker traceback; once it is gone, `down` works."""
    monkeypatch.setattr("mlops_stack.localrun.engine.VOLUME_RELEASE_SECONDS", 1)
    scratch = {"name": "scratch", "emptyDir": {}}
    mounts = [{"name": "scratch", "mountPath": "/s"}]
    server = container("server", toolbox, "exec sleep infinity", volumeMounts=mounts)
    app = deployment("app", {"app": "app"}, [server], volumes=[scratch], terminationGracePeriodSeconds=1)
    runner.up([app])
    volume = f"{runner.engine.name('app-0')}-scratch"
    holder = docker_client.containers.run(
        toolbox, ["sleep", "infinity"], detach=True, name=f"{runner.engine.project}-intruder",
        volumes={volume: {"bind": "/s", "mode": "rw"}},
    )  # fmt: skip
    try:
        with pytest.raises(LocalRunError) as held:
            runner.down()
        assert str(held.value).startswith(f"volume {volume} cannot be removed (")
        assert str(held.value).endswith(
            f"container(s) {holder.name} still use it; another runner of project {runner.engine.project!r} "
            "may be at work: stop it (or remove those containers), then retry"
        )
    finally:
        holder.remove(force=True)
    runner.down()
    assert volume not in runner.engine.volume_names()


def test_stop_start_env_and_a_clean_that_keeps_the_backups(
    runner: Runner, toolbox: str, docker_client: docker.DockerClient
) -> None:
    """What the restore needs: writers stopped and started again (`kubectl scale`), a job with a variable
    (`kubectl set env`), and `clean` keeping the backup claim and its password (as `helm uninstall` does)."""
    writer = container("write", toolbox, 'echo "restored $SNAPSHOT" >> /data/journal', volumeMounts=MOUNT)
    template = job("unused", [writer], [CLAIM])
    restore = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "restore"},
        "spec": {"schedule": "0 0 30 2 *", "suspend": True, "jobTemplate": {"spec": template["spec"]}},
    }
    password = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "backup-password"},
                "stringData": {"password": "kept"}}  # fmt: skip
    other = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"p": "gone"}}
    docs = [*release(toolbox), restore, password, other]
    runner.state.keep_generated(docs, None)
    runner.up(docs)
    app = runner.engine.name("app-0")
    assert runner.stop(["Deployment/app"]) == [app]
    assert app not in runner.engine.pods()
    runner.create_job("restore", env={"SNAPSHOT": "latest"})
    runner.start(["Deployment/app"])
    assert app in runner.engine.pods()
    assert journal(docker_client, toolbox, runner)[-2:] == ["restored latest", "server"]
    with pytest.raises(
        LocalRunError, match=r"Deployment/nope: not a Deployment or StatefulSet of the release"
    ):
        runner.stop(["Deployment/nope"])

    assert runner.clean(keep_claims=("journal",), keep_secrets=("backup-password",)) == []
    assert runner.engine.volume_names("claim") == [runner.engine.name("journal")]
    assert runner.state.secret_value("backup-password", "password") == b"kept"
    assert runner.state.secret_value("db", "p") is None
    runner.clean()
    assert runner.engine.volume_names("claim") == []
