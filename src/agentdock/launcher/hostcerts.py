"""The host's locally added CA certificates, for image builds behind TLS-intercepting proxies.

Docker Desktop trusts the host's certificates in its builds without being asked; a plain
engine does not, and the image build then stops at ``SELF_SIGNED_CERT_IN_CHAIN`` while npm
fetches Claude Code.  So the launcher gathers what the host trusts *in addition to* the
public roots and puts it in the build context (``certs/``), where the Dockerfile installs it:

* Debian/Ubuntu: ``/usr/local/share/ca-certificates/**/*.crt``
* Fedora/RHEL: ``/etc/pki/ca-trust/source/anchors/*``
* Arch: ``/etc/ca-certificates/trust-source/anchors/*``; SUSE: ``/usr/share/pki/trust/anchors/*``
* macOS: the System keychain (where administrators add certificates), via ``security``
* ``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS`` when set

Only PEM ``CERTIFICATE`` blocks are kept (a private key in a misplaced file never enters a
build context), one file per certificate, named by its SHA-256 so the set is stable and
de-duplicated; the image-input hash covers them.  ``--no-host-certs`` turns this off.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

__all__ = [
    "CERT_ERROR_MARKERS",
    "ENV_BUNDLES",
    "HOST_ANCHOR_DIRS",
    "certificate_hint",
    "host_ca_certificates",
    "pem_certificates",
]

HOST_ANCHOR_DIRS: tuple[str, ...] = (
    "/usr/local/share/ca-certificates",
    "/etc/pki/ca-trust/source/anchors",
    "/etc/ca-certificates/trust-source/anchors",
    "/usr/share/pki/trust/anchors",
)
ENV_BUNDLES: tuple[str, ...] = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
MACOS_KEYCHAIN = "/Library/Keychains/System.keychain"
#: A bundle larger than this is not a list of added certificates; it is skipped.
MAX_FILE_BYTES = 4 * 1024 * 1024

#: What a build log says when TLS interception broke it (npm, pip, curl, apt, OpenSSL).
CERT_ERROR_MARKERS: tuple[str, ...] = (
    "SELF_SIGNED_CERT_IN_CHAIN",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "CERTIFICATE_VERIFY_FAILED",
    "certificate verify failed",
    "self-signed certificate in certificate chain",
    "unable to get local issuer certificate",
    "server certificate verification failed",
)

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----")

Runner = Callable[[list[str]], bytes]


def pem_certificates(data: bytes) -> list[bytes]:
    """Every PEM certificate block in ``data``, normalised to ``\\n`` line ends; nothing else."""
    return [block.replace(b"\r\n", b"\n") + b"\n" for block in _PEM.findall(data)]


def _files(folder: Path) -> Iterable[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in {".crt", ".pem", ".cer"}
    )


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return b""
        return path.read_bytes()
    except OSError:
        return b""


def _macos(run: Runner) -> bytes:
    try:
        return run(["/usr/bin/security", "find-certificate", "-a", "-p", MACOS_KEYCHAIN])
    except (OSError, subprocess.SubprocessError):
        return b""


def _run(argv: list[str]) -> bytes:
    return subprocess.run(argv, capture_output=True, timeout=20, check=True).stdout


def host_ca_certificates(
    environ: Mapping[str, str],
    *,
    platform: str = sys.platform,
    anchor_dirs: Iterable[str] = HOST_ANCHOR_DIRS,
    run: Runner = _run,
) -> dict[str, bytes]:
    """``{"host-<sha256 prefix>.crt": PEM}`` for every certificate the host adds to its trust."""
    blobs: list[bytes] = [_read(path) for folder in anchor_dirs for path in _files(Path(folder))]
    blobs += [_read(Path(environ[name])) for name in ENV_BUNDLES if environ.get(name)]
    if platform == "darwin":
        blobs.append(_macos(run))
    found: dict[str, bytes] = {}
    for blob in blobs:
        for cert in pem_certificates(blob):
            found[f"host-{hashlib.sha256(cert).hexdigest()[:16]}.crt"] = cert
    return dict(sorted(found.items()))


def certificate_hint(log_tail: str) -> str | None:
    """What to do, when a build log shows a TLS verification failure; else None."""
    if not any(marker.lower() in log_tail.lower() for marker in CERT_ERROR_MARKERS):
        return None
    return (
        "the build could not verify a TLS certificate: this network probably intercepts HTTPS. "
        "Add the proxy's CA certificate (PEM) where the host trusts it — "
        "/usr/local/share/ca-certificates/ (Debian/Ubuntu), /etc/pki/ca-trust/source/anchors/ "
        "(Fedora/RHEL), the System keychain (macOS) — or point SSL_CERT_FILE at it, or copy it "
        "to docker/certs/*.crt; then run ./launch.sh again (the launcher adds them to the build "
        "unless --no-host-certs is given). `./launch.sh doctor` lists what it found."
    )
