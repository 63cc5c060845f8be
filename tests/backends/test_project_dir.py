"""``serve --project-dir``: accepted (the newest editor passes it on every start), recorded in whoami,
and the project's ``nodegx.security.json`` seeds a backend that has no policy yet."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from sidecar.backends.project_dir import ProjectPolicy, adopt_project
from sidecar.errors import SecurityFileError
from tests.backends.test_serve import READY, finish, start

POLICY = {"version": 1, "devOpen": False, "functions": {"hello": {"call": "authenticated"}}}


def test_the_project_policy_is_installed_once_and_never_over_a_backend_policy(tmp_path: Path) -> None:
    project, data = tmp_path / "my project", tmp_path / "data"
    project.mkdir()
    data.mkdir()
    assert adopt_project(None, data).policy is ProjectPolicy.NONE
    assert adopt_project(project, data).policy is ProjectPolicy.NONE
    (project / "nodegx.security.json").write_text(json.dumps(POLICY))
    assert adopt_project(project, data).policy is ProjectPolicy.INSTALLED
    installed = json.loads((data / "security.json").read_text())
    assert installed["functions"] == POLICY["functions"]
    (data / "security.json").write_text(json.dumps({"version": 1, "devOpen": True}))
    assert adopt_project(project, data).policy is ProjectPolicy.KEPT
    assert json.loads((data / "security.json").read_text())["devOpen"] is True


def test_a_broken_project_policy_refuses_the_start(tmp_path: Path) -> None:
    project, data = tmp_path / "p", tmp_path / "d"
    project.mkdir()
    data.mkdir()
    (project / "nodegx.security.json").write_text(json.dumps({"version": 1, "devOpen": "yes"}))
    with pytest.raises(SecurityFileError, match="devOpen"):
        adopt_project(project, data)
    assert not (data / "security.json").exists()


def test_serve_accepts_project_dir_and_reports_it(tmp_path: Path) -> None:
    project = tmp_path / "My Project"
    project.mkdir()
    (project / "nodegx.security.json").write_text(json.dumps(POLICY))
    data = tmp_path / "backend_pd1"
    process, line = start(data, "--backend-id", "backend_pd1", "--project-dir", str(project))
    try:
        assert line.startswith(READY), line
        port = json.loads(line[len(READY) :])["port"]
        token = json.loads((data / "secrets.json").read_text())["adminToken"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_admin/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            who = json.loads(reply.read())
        assert who["projectDir"] == str(project)
        assert who["projectPolicy"] == "installed"
        assert json.loads((data / "security.json").read_text())["functions"] == POLICY["functions"]
    finally:
        process.terminate()
        code, _err = finish(process)
    assert code == 0
