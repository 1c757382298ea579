"""Every run records where it came from: user, host, Python, tracklog, command, cwd, git."""

from __future__ import annotations

import json
import platform
import subprocess
import textwrap

import tracklog
from tracklog._provenance import _without_credentials, describe

from ..conftest import PYTHON, python_env

_SCRIPT = textwrap.dedent("""
    import json, sys
    import tracklog
    with tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "prov").start_logging() as run:
        run.log("x", 1)
    print(json.dumps(run.get_tags()))
""")


def _git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def _new_repo(folder, branch):
    """An empty repository at ``folder`` on ``branch``, with a committer set."""
    folder.mkdir()
    _git(folder, "init", "-q", "-b", branch)
    _git(folder, "config", "user.email", "t@example.com")
    _git(folder, "config", "user.name", "t")
    return folder


def _tags_of_script_in(folder, tmp_path, *args):
    script = folder / "train.py"
    if not script.exists():
        script.write_text(_SCRIPT)
    done = subprocess.run(
        [PYTHON, str(script), str(tmp_path / "ws"), *args],
        cwd=tmp_path, env=python_env(), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_run_records_user_host_python_version_command_and_cwd(tmp_path):
    """Outside any repository: the process's facts, and no git tags."""
    (tmp_path / "plain").mkdir()
    tags = _tags_of_script_in(tmp_path / "plain", tmp_path, "--epochs", "3")
    assert tags["tracklog.python"] == platform.python_version()
    assert tags["tracklog.version"] == tracklog.__version__
    assert tags["tracklog.user"] and tags["tracklog.host"]
    assert tags["tracklog.cwd"] == str(tmp_path)
    assert tags["tracklog.command"].endswith(f"{tmp_path / 'plain' / 'train.py'} {tmp_path / 'ws'} --epochs 3")
    assert tags["tracklog.source"] == str(tmp_path / "plain" / "train.py")
    assert not [k for k in tags if k.startswith("tracklog.git.")]


def test_a_script_in_a_git_repository_records_commit_branch_and_dirty_flag(tmp_path):
    """The script's repository (not the cwd's) gives commit, branch, dirty and origin."""
    repo = _new_repo(tmp_path / "repo", "feature")
    _git(repo, "remote", "add", "origin", "https://bob:s3cret@git.example.com/team/model.git")
    (repo / "train.py").write_text(_SCRIPT)
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "one")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    tags = _tags_of_script_in(repo, tmp_path)
    assert tags["tracklog.git.commit"] == commit and tags["tracklog.git.branch"] == "feature"
    assert tags["tracklog.git.dirty"] == "false"
    assert tags["tracklog.git.repo"] == "https://git.example.com/team/model.git"  # no credentials
    (repo / "train.py").write_text(_SCRIPT + "\n# edited\n")
    assert _tags_of_script_in(repo, tmp_path)["tracklog.git.dirty"] == "true"


def test_describe_reads_tracklog_and_mlflow_names_alike():
    """The show/UI summary reads provenance whether tracklog or MLflow named the tags."""
    ours = describe({"tracklog.user": "ann", "tracklog.git.commit": "a" * 40, "tracklog.git.branch": "main",
                     "tracklog.git.dirty": "true", "model": "cnn"})
    assert ours == [("user", "ann"), ("git", "aaaaaaaaaaaa (main, dirty)")]
    theirs = describe({"mlflow.user": "ann", "mlflow.source.git.commit": "b" * 40})
    assert theirs == [("user", "ann"), ("git", "bbbbbbbbbbbb")]


def test_credentials_in_a_remote_url_never_become_a_tag():
    assert _without_credentials("https://u:tok@host/x.git") == "https://host/x.git"
    assert _without_credentials("git@github.com:team/x.git") == "git@github.com:team/x.git"


def test_tracklog_run_records_the_jobs_repository_not_tracklogs(tmp_path):
    """``python -m tracklog run`` from a checkout of tracklog: git is the job's working directory's."""
    repo = _new_repo(tmp_path / "job", "main")
    (repo / "train.py").write_text("print('hi')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "one")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    ws = tmp_path / "ws"
    done = subprocess.run(
        [PYTHON, "-m", "tracklog", "--workspace", str(ws), "run", "--quiet", "--", PYTHON, "train.py"],
        cwd=repo, env=python_env(), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (run,) = tracklog.Workspace(ws).get_runs()
    tags = run.get_tags()
    assert tags["tracklog.git.commit"] == commit and tags["tracklog.git.branch"] == "main"
    assert tags["tracklog.cwd"] == str(repo)
    assert "tracklog.source" not in tags  # not tracklog's own __main__.py
