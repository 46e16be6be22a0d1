"""The agent image: its build context, the hash of its inputs, and building it when that changes.

The image is built from ``docker/`` (Dockerfile, entrypoint, pinned
requirements, CA certificates) plus agentdock's own source: ``dist/agentdock-src/``
(pyproject.toml, README.md, src/agentdock) and ``dist/mcp_proxy.py``.  A plain
file copy — no build tools on the host, and the wheel is built inside the image.

`ensure_image` copies every input into a private temporary folder and builds
from that, so two launches never delete each other's context, and the label is
computed from exactly the files sent.  It holds a lock per tag in the checkout's
run folder (``<checkout>/.agentdock/run/image-<tag>.lock``; the image serves
every project launched from the checkout) while it checks and builds, so a
second launch waits and then finds the image up to date.  `prepare_context`
fills ``docker/dist/`` (git-ignored, under a lock as well) for a build by hand:
``./launch.sh --prepare-context && docker build -t claude-agent docker/``.

The image carries the label ``io.agentdock.inputs``: a SHA-256 over every
input (Dockerfile, entrypoint, pinned requirements, CA certificates, the
agentdock source, the proxy script, the build arguments).  `ensure_image`
rebuilds when the label differs from the checkout, so editing the source and
running ``./launch.sh`` again is enough.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors

from agentdock import paths
from agentdock.defaults import IMAGE_TAG
from agentdock.launcher.errors import ConfigError, DockerError, ImageBuildError
from agentdock.launcher.hostcerts import certificate_hint, host_ca_certificates
from agentdock.launcher.locks import step_lock

__all__ = [
    "DEFAULT_CONTAINER_ID",
    "DEFAULT_TAG",
    "LABEL_INPUTS",
    "ImageResult",
    "ImageSpec",
    "agentdock_checkout",
    "assemble_context",
    "container_ids",
    "ensure_image",
    "image_inputs",
    "image_lock_file",
    "inputs_hash",
    "prepare_context",
]

DEFAULT_TAG = IMAGE_TAG
LABEL_INPUTS = "io.agentdock.inputs"
#: uid/gid of the image's user when the host user is root (the agent never runs as root).
DEFAULT_CONTAINER_ID = 1000
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def container_ids(uid: int | None = None, gid: int | None = None) -> tuple[int, int]:
    """The image user's uid/gid: the host user's, or 1000/1000 when the host user is root."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    if uid == 0 or gid == 0:
        return DEFAULT_CONTAINER_ID, DEFAULT_CONTAINER_ID
    return uid, gid


def agentdock_checkout() -> Path:
    """The agentdock checkout this package runs from (it holds docker/, src/, proxy/)."""
    here = Path(__file__).resolve()
    for candidate in here.parents:
        if (candidate / "docker" / "Dockerfile").is_file() and (candidate / "src" / "agentdock").is_dir():
            return candidate
    raise ConfigError(
        "building the agent image needs an agentdock checkout (docker/, src/, proxy/); "
        f"{here} is not inside one — run ./launch.sh from a clone of agentdock"
    )


@dataclass(frozen=True)
class ImageSpec:
    repo: Path
    tag: str = DEFAULT_TAG
    uid: int = DEFAULT_CONTAINER_ID
    gid: int = DEFAULT_CONTAINER_ID
    base_image: str | None = None  # None: the Dockerfile's default
    build_args: Mapping[str, str] = field(default_factory=dict)  # e.g. CLAUDE_CODE_VERSION
    #: add the host's locally added CA certificates to the build (see launcher.hostcerts)
    host_certs: bool = True

    @property
    def docker_dir(self) -> Path:
        return self.repo / "docker"

    def all_build_args(self) -> dict[str, str]:
        args = {"AGENT_UID": str(self.uid), "AGENT_GID": str(self.gid), **self.build_args}
        if self.base_image:
            args["BASE_IMAGE"] = self.base_image
        return args


@dataclass(frozen=True)
class ImageResult:
    tag: str
    inputs_hash: str
    built: bool
    size_bytes: int
    reason: str  # why it was (or was not) built


def _walk(folder: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(dirpath) / name


def _source_files(repo: Path) -> dict[str, Path]:
    """Context-relative name -> checkout file, for what `prepare_context` copies into dist/."""
    files = {"dist/agentdock-src/pyproject.toml": repo / "pyproject.toml"}
    if (repo / "README.md").is_file():
        files["dist/agentdock-src/README.md"] = repo / "README.md"
    for path in _walk(repo / "src" / "agentdock"):
        files[f"dist/agentdock-src/{path.relative_to(repo).as_posix()}"] = path
    files["dist/mcp_proxy.py"] = repo / "proxy" / "mcp_proxy.py"
    return files


#: A build-context input: a file of the checkout, or bytes made at build time (host certificates).
Input = Path | bytes


def image_inputs(spec: ImageSpec, environ: Mapping[str, str] | None = None) -> dict[str, Input]:
    """Every file the image is built from, keyed by its name in the build context."""
    d = spec.docker_dir
    files: dict[str, Input] = {
        name: d / name for name in ("Dockerfile", "entrypoint.sh", "requirements.txt", ".dockerignore")
    }
    for cert in sorted((d / "certs").glob("*.crt")):
        files[f"certs/{cert.name}"] = cert
    if spec.host_certs:
        env = os.environ if environ is None else environ
        files.update({f"certs/{name}": pem for name, pem in host_ca_certificates(env).items()})
    files.update(_source_files(spec.repo))
    return files


def _digest(files: Mapping[str, Input], build_args: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(files.items()):
        if isinstance(path, bytes):
            data, executable = path, False
        else:
            try:
                data = path.read_bytes()
                executable = os.access(path, os.X_OK)
            except OSError as exc:
                raise ConfigError(f"image input {path} cannot be read: {exc}") from exc
        digest.update(f"{name}\0{int(executable)}\0{len(data)}\0".encode())
        digest.update(data)
    for key, value in sorted(build_args.items()):
        digest.update(f"arg\0{key}={value}\0".encode())
    return digest.hexdigest()


def inputs_hash(spec: ImageSpec) -> str:
    """SHA-256 over the inputs' names, modes and contents, and the build arguments."""
    return _digest(image_inputs(spec), spec.all_build_args())


def _copy(files: Mapping[str, Input], folder: Path) -> dict[str, Input]:
    """Copy ``files`` (context name -> source) under ``folder``; name -> copy."""
    copies: dict[str, Input] = {}
    for name, source in files.items():
        if isinstance(source, bytes):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source)
            copies[name] = target
            continue
        if not source.is_file():
            raise ConfigError(f"{source} is missing; the image needs it")
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(source, target)
        except OSError as exc:
            raise ConfigError(f"cannot copy {source} into the build context: {exc}") from exc
        copies[name] = target
    return copies


def _readme_stub(source_copy: Path) -> None:
    """pyproject names a readme and setuptools insists it exists: a stub when the checkout has none."""
    readme = source_copy / "README.md"
    if not readme.exists():
        readme.write_text("agentdock\n", encoding="utf-8")


def assemble_context(spec: ImageSpec, folder: Path) -> dict[str, Input]:
    """Copy every image input into ``folder``, a complete build context of its own; name -> copy."""
    copies = _copy(image_inputs(spec), folder)
    _readme_stub(folder / "dist" / "agentdock-src")
    (folder / "certs").mkdir(exist_ok=True)  # the Dockerfile copies certs/, even when it holds none
    return copies


def prepare_context(repo: Path, *, lock_timeout_s: float = 300.0) -> Path:
    """Copy agentdock's source and the proxy script into ``docker/dist/`` (replacing what was there),
    for ``docker build docker/`` by hand.  Under a lock: two at once never mix or delete halves."""
    docker_dir = repo / "docker"
    dist = docker_dir / "dist"
    with step_lock(
        paths.run_dir(repo) / "context.lock", what="preparing docker/dist", timeout_s=lock_timeout_s
    ):
        staging = Path(tempfile.mkdtemp(prefix=".dist-", dir=docker_dir))
        try:
            _copy({name.removeprefix("dist/"): path for name, path in _source_files(repo).items()}, staging)
            _readme_stub(staging / "agentdock-src")
            shutil.rmtree(dist, ignore_errors=True)
            staging.rename(dist)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        # a build by hand trusts what the host trusts, as ./launch.sh's builds do
        for name, pem in host_ca_certificates(os.environ).items():
            target = docker_dir / "certs" / name
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(pem)
    return dist


def image_lock_file(spec: ImageSpec) -> Path:
    """The lock `ensure_image` holds for ``spec.tag``: in the checkout's run folder."""
    return paths.run_dir(spec.repo) / f"image-{re.sub(r'[^A-Za-z0-9_.-]', '_', spec.tag)}.lock"


def _image_label(client: Any, tag: str) -> tuple[str | None, int]:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None, 0
    except docker.errors.DockerException as exc:
        raise DockerError(f"cannot inspect image {tag}: {exc}") from exc
    labels = image.attrs.get("Config", {}).get("Labels") or {}
    return str(labels.get(LABEL_INPUTS, "")), int(image.attrs.get("Size", 0))


def build_image(
    client: Any,
    spec: ImageSpec,
    digest: str,
    on_line: Callable[[str], None],
    *,
    context: Path | None = None,
) -> None:
    """``docker build`` ``context`` (default ``docker/``) with the inputs label; stream its output."""
    tail: list[str] = []
    try:
        for chunk in client.api.build(
            path=str(context or spec.docker_dir),
            tag=spec.tag,
            buildargs=spec.all_build_args(),
            labels={LABEL_INPUTS: digest},
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        ):
            text = str(chunk.get("stream") or chunk.get("status") or "").rstrip()
            if text:
                tail = [*tail[-39:], text]
                on_line(text)
            if "error" in chunk:
                raise _build_failed(spec, str(chunk["error"]), tail)
    except docker.errors.DockerException as exc:
        raise _build_failed(spec, str(exc), tail) from exc


def _build_failed(spec: ImageSpec, error: str, tail: list[str]) -> ImageBuildError:
    """The build's error, with what to do when the log shows TLS interception."""
    log = "\n".join(tail)
    hint = certificate_hint(f"{error}\n{log}")
    return ImageBuildError(f"docker build of {spec.tag} failed: {error}" + (f"\n{hint}" if hint else ""), log)


def ensure_image(
    client: Any,
    spec: ImageSpec,
    *,
    rebuild: bool = False,
    on_line: Callable[[str], None] = lambda _: None,
    on_wait: Callable[[str], None] | None = None,
    lock_file: Path | None = None,
    lock_timeout_s: float = 1800.0,
) -> ImageResult:
    """Build ``spec.tag`` when it is missing, when its inputs changed, or when ``rebuild``.

    Holds ``lock_file`` (default `image_lock_file`) while it checks and builds; a second
    caller waits up to ``lock_timeout_s`` (telling ``on_wait``, default ``on_line``), then
    finds the image up to date.  The build runs from a private copy of the inputs.
    """
    with step_lock(
        lock_file or image_lock_file(spec),
        what=f"building the image {spec.tag}",
        timeout_s=lock_timeout_s,
        on_wait=on_wait or on_line,
    ):
        return _ensure_image(client, spec, rebuild=rebuild, on_line=on_line)


def _ensure_image(
    client: Any, spec: ImageSpec, *, rebuild: bool, on_line: Callable[[str], None]
) -> ImageResult:
    digest = inputs_hash(spec)
    label, size = _image_label(client, spec.tag)
    if label is None:
        reason = "image missing"
    elif rebuild:
        reason = "--rebuild"
    elif label != digest:
        reason = "inputs changed"
    else:
        return ImageResult(spec.tag, digest, built=False, size_bytes=size, reason="up to date")
    with tempfile.TemporaryDirectory(prefix="agentdock-context-") as folder:
        context = Path(folder)
        # the label describes exactly what is sent, even if the checkout changes meanwhile
        digest = _digest(assemble_context(spec, context), spec.all_build_args())
        build_image(client, spec, digest, on_line, context=context)
    label, size = _image_label(client, spec.tag)
    if label != digest:
        raise ImageBuildError(
            f"built {spec.tag} but its {LABEL_INPUTS} label is {label!r}, expected {digest}"
        )
    return ImageResult(spec.tag, digest, built=True, size_bytes=size, reason=reason)
