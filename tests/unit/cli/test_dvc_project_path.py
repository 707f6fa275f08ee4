"""One DVC remote directory per project by default: `dvc gc --cloud` in one project must not reach
another project's data (see mlops_stack.client.dvc_project_path)."""

from __future__ import annotations

import pytest

from mlops_stack.client.dvc_project_path import git_remote_project

from .conftest import dvc, dvc_config, git


@pytest.mark.parametrize(
    ("url", "project"),
    [
        ("git@gitlab.example.org:team/iris.git", "team/iris"),
        ("https://gitlab.example.org/team/sub/iris.git", "team/sub/iris"),
        ("ssh://git@gitlab.example.org:2222/team/iris", "team/iris"),
        ("/srv/git/iris.git", "iris"),
        ("file:///srv/git/iris.git/", "iris"),
        ("https://host/team/my project (v2).git", "team/my-project-v2"),
        ("https://host/../../etc/passwd", "etc/passwd"),
    ],
)
def test_git_remote_gives_the_project_directory(url, project):
    assert git_remote_project(url) == project


def _args_without_path(init_args: list[str]) -> list[str]:
    i = init_args.index("--dvc-remote-path")
    return init_args[:i] + init_args[i + 2 :]


def _remote_url(root) -> str:
    return dvc_config(root, "repo")["remote"]["storage"]["url"]


def test_default_path_comes_from_the_git_remote(mlops, init_args, alice, dvc_project, sshd):
    origin = "git@gitlab.example.org:team/iris.git"
    git(dvc_project, "remote", "add", "origin", origin)
    result = mlops(*_args_without_path(init_args), stdin=alice.password + "\n")
    assert result.code == 0, result.err
    assert (
        f"DVC: remote directory /data/dvc/team/iris (one directory per project, from the Git remote {origin})"
        in result.out.splitlines()
    )
    assert _remote_url(dvc_project) == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}/data/dvc/team/iris"
    assert mlops("doctor").out.count("dvc remote") == 1


def test_without_a_git_remote_the_folder_name_is_used(mlops, init_args, alice, dvc_project, sshd):
    result = mlops(*_args_without_path(init_args), stdin=alice.password + "\n")
    assert result.code == 0, result.err
    assert (
        "DVC: remote directory /data/dvc/project (one directory per project, from the folder name 'project')"
        in result.out.splitlines()
    )
    assert _remote_url(dvc_project) == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}/data/dvc/project"


def test_the_committed_directory_wins_over_a_new_origin(mlops, init_args, alice, dvc_project, sshd):
    """A teammate's clone (another folder name, another origin URL) keeps the project's directory."""
    assert mlops(*_args_without_path(init_args), stdin=alice.password + "\n").code == 0
    git(dvc_project, "commit", "-q", "-m", "DVC remote", ".dvc/config")
    git(dvc_project, "remote", "add", "origin", "https://github.com/someone/fork.git")
    again = mlops(*_args_without_path(init_args), stdin=alice.password + "\n")
    assert again.code == 0, again.err
    assert "DVC: remote directory /data/dvc/project (as already committed in .dvc/config)" in again.out
    assert git(dvc_project, "status", "--porcelain", ".dvc/config") == ""


def test_the_flag_overrides_everything(mlops, init_args, alice, dvc_project, sshd, tmp_path):
    git(dvc_project, "remote", "add", "origin", "git@gitlab.example.org:team/iris.git")
    result = mlops(*init_args, stdin=alice.password + "\n")
    assert result.code == 0, result.err
    wanted = tmp_path / "sftp-data" / "dvc"
    assert f"DVC: remote directory {wanted} (from --dvc-remote-path)" in result.out
    assert _remote_url(dvc_project).endswith(f":{sshd.port}{wanted}")


def test_two_projects_gc_leaves_the_other_projects_data(mlops, init_args, alice, sshd, tmp_path, monkeypatch):
    """Both projects on one real sshd, each in its default directory (under a base the test user owns)."""
    base = tmp_path / "srv"
    roots = {}
    for name in ("iris", "wine"):
        root = tmp_path / name
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        dvc(root, "init", "-q")
        git(root, "remote", "add", "origin", f"git@gitlab.example.org:team/{name}.git")
        monkeypatch.chdir(root)
        assert mlops(*_args_without_path(init_args), stdin=alice.password + "\n").code == 0
        # The sshd runs as the test user, who cannot create /data: the same layout below tmp_path.
        url = _remote_url(root).replace("/data/dvc/", f"{base}/")
        dvc(root, "remote", "modify", "storage", "url", url)
        (root / f"{name}.csv").write_text(f"{name} data\n")
        dvc(root, "add", "-q", f"{name}.csv")
        dvc(root, "push", "-q")
        roots[name] = root

    def objects(name: str) -> list[str]:
        return sorted(p.name for p in (base / "team" / name).rglob("*") if p.is_file())

    assert (len(objects("iris")), len(objects("wine"))) == (1, 1)
    # iris drops its data version and collects garbage in its remote: gone there, wine's stays.
    (roots["iris"] / "iris.csv.dvc").unlink()
    dvc(roots["iris"], "gc", "--workspace", "--cloud", "--force")
    assert (len(objects("iris")), len(objects("wine"))) == (0, 1)
    # wine's data is still there: a fresh cache pulls it back byte for byte.
    (roots["wine"] / "wine.csv").unlink()
    dvc(roots["wine"], "cache", "dir", "--local", str(tmp_path / "fresh-cache"))
    dvc(roots["wine"], "pull", "-q")
    assert (roots["wine"] / "wine.csv").read_text() == "wine data\n"


def test_doctor_names_a_missing_remote_and_a_foreign_server(mlops, init_args, alice, dvc_project, sshd):
    assert mlops(*_args_without_path(init_args), stdin=alice.password + "\n").code == 0
    dvc(
        dvc_project,
        "remote",
        "modify",
        "storage",
        "url",
        "ssh://mlops@elsewhere.example.org:22/data/dvc/project",
    )
    line = next(x for x in mlops("doctor").out.splitlines() if "dvc remote" in x)
    assert line == (
        "FAIL  dvc remote         remote 'storage' is ssh://mlops@elsewhere.example.org:22/data/dvc/project, "
        f"expected ssh://{sshd.user}@127.0.0.1:{sshd.port}/data/dvc/project -> run `mlops init`"
    )
    dvc(dvc_project, "remote", "remove", "--local", "storage")  # the key file setting, then the remote
    dvc(dvc_project, "remote", "remove", "storage")
    line = next(x for x in mlops("doctor").out.splitlines() if "dvc remote" in x)
    assert line == "FAIL  dvc remote         remote 'storage' does not exist -> run `mlops init` here"
