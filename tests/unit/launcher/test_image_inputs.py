"""The image's inputs hash, the build context preparation, and the pinned requirements."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from agentdock.launcher.errors import ConfigError
from agentdock.launcher.image import (
    ImageSpec,
    agentdock_checkout,
    container_ids,
    inputs_hash,
    prepare_context,
)

REPO = agentdock_checkout()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A minimal copy of the checkout's image inputs."""
    copy = tmp_path / "repo"
    (copy / "docker" / "certs").mkdir(parents=True)
    for name in ("Dockerfile", "entrypoint.sh", "requirements.txt", ".dockerignore"):
        shutil.copy2(REPO / "docker" / name, copy / "docker" / name)
    (copy / "docker" / "certs" / "corp.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (copy / "src" / "agentdock" / "proxy").mkdir(parents=True)
    (copy / "src" / "agentdock" / "__init__.py").write_text("x = 1\n")
    (copy / "src" / "agentdock" / "proxy" / "bridge.py").write_text("y = 2\n")
    (copy / "pyproject.toml").write_text("[project]\nname = 'agentdock'\n")
    (copy / "proxy").mkdir()
    (copy / "proxy" / "mcp_proxy.py").write_text("print('proxy')\n")
    return copy


def test_hash_changes_with_source_certs_dockerfile_and_build_args_only(repo: Path) -> None:
    spec = ImageSpec(repo=repo, uid=1000, gid=1000)
    base = inputs_hash(spec)
    pycache = repo / "src" / "agentdock" / "__pycache__"
    pycache.mkdir()
    (pycache / "x.cpython-311.pyc").write_bytes(b"\0")
    (repo / "docker" / "dist").mkdir()
    (repo / "docker" / "dist" / "junk").write_text("ignored")
    assert inputs_hash(spec) == base

    assert inputs_hash(ImageSpec(repo=repo, uid=1001, gid=1000)) != base
    assert (
        inputs_hash(ImageSpec(repo=repo, uid=1000, gid=1000, build_args={"CLAUDE_CODE_VERSION": "2"})) != base
    )
    for edit in (
        repo / "src" / "agentdock" / "proxy" / "bridge.py",
        repo / "docker" / "certs" / "corp.crt",
        repo / "docker" / "Dockerfile",
        repo / "proxy" / "mcp_proxy.py",
    ):
        original = edit.read_bytes()
        edit.write_bytes(original + b"\n# changed\n")
        assert inputs_hash(spec) != base, edit
        edit.write_bytes(original)
        assert inputs_hash(spec) == base


def test_prepare_context_copies_the_source_and_proxy_into_docker_dist(repo: Path) -> None:
    stale = repo / "docker" / "dist" / "agentdock-src" / "src" / "agentdock" / "gone.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    dist = prepare_context(repo)
    assert dist == repo / "docker" / "dist"
    assert (dist / "mcp_proxy.py").read_text() == "print('proxy')\n"
    assert (dist / "agentdock-src" / "src" / "agentdock" / "proxy" / "bridge.py").read_text() == "y = 2\n"
    assert (dist / "agentdock-src" / "pyproject.toml").is_file()
    assert (dist / "agentdock-src" / "README.md").is_file()
    assert not stale.exists()


def test_missing_proxy_script_is_a_clear_error(repo: Path) -> None:
    (repo / "proxy" / "mcp_proxy.py").unlink()
    with pytest.raises(ConfigError, match=r"mcp_proxy\.py"):
        prepare_context(repo)
    assert not (repo / "docker" / "dist").exists()


def test_container_user_matches_the_host_user_but_never_root() -> None:
    assert container_ids(1234, 1235) == (1234, 1235)
    assert container_ids(0, 0) == (1000, 1000)


def test_pinned_requirements_cover_every_runtime_dependency_within_its_range() -> None:
    pins = {}
    for line in (REPO / "docker" / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"unpinned: {line}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for raw in project["dependencies"]:
        req = Requirement(raw)
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        assert key in pins, f"{req.name} is not pinned in docker/requirements.txt"
        assert req.specifier.contains(pins[key], prereleases=True), (
            f"{req.name}=={pins[key]} not in {req.specifier}"
        )
