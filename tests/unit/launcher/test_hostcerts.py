"""Gathering the host's locally added CA certificates for image builds (issue: TLS interception)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock.launcher.hostcerts import certificate_hint, host_ca_certificates, pem_certificates
from agentdock.launcher.image import ImageSpec, image_inputs, inputs_hash

CERT_A = b"-----BEGIN CERTIFICATE-----\nQUFBQQ==\n-----END CERTIFICATE-----\n"
CERT_B = b"-----BEGIN CERTIFICATE-----\r\nQkJCQg==\r\n-----END CERTIFICATE-----\r\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"


def test_only_certificate_blocks_are_kept_never_a_key() -> None:
    certs = pem_certificates(b"junk\n" + CERT_A + KEY + CERT_B)
    assert certs == [CERT_A, CERT_B.replace(b"\r\n", b"\n")]
    assert all(b"PRIVATE" not in c for c in certs)


def test_anchor_folders_and_bundle_variables_are_gathered_and_deduplicated(tmp_path: Path) -> None:
    debian = tmp_path / "usr-local-share-ca"
    (debian / "corp").mkdir(parents=True)
    (debian / "corp" / "proxy.crt").write_bytes(CERT_A)
    (debian / "notes.txt").write_bytes(CERT_B)  # not a certificate file name: ignored
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(CERT_A + CERT_B + KEY)
    found = host_ca_certificates(
        {"NODE_EXTRA_CA_CERTS": str(bundle)}, platform="linux", anchor_dirs=[str(debian)]
    )
    assert sorted(found.values()) == sorted([CERT_A, CERT_B.replace(b"\r\n", b"\n")])
    assert all(name.startswith("host-") and name.endswith(".crt") for name in found)


def test_macos_reads_the_system_keychain(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def run(argv: list[str]) -> bytes:
        calls.append(argv)
        return CERT_A

    found = host_ca_certificates({}, platform="darwin", anchor_dirs=[], run=run)
    assert list(found.values()) == [CERT_A]
    assert calls and calls[0][-1] == "/Library/Keychains/System.keychain"


def test_missing_or_unreadable_sources_are_no_error(tmp_path: Path) -> None:
    env = {"SSL_CERT_FILE": str(tmp_path / "missing.pem")}
    assert host_ca_certificates(env, platform="linux", anchor_dirs=[str(tmp_path / "none")]) == {}


def test_the_certificates_are_image_inputs_and_change_its_hash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = Path(__file__).resolve().parents[3]
    bundle = tmp_path / "corp.pem"
    bundle.write_bytes(CERT_A)
    spec = ImageSpec(repo=repo, uid=1000, gid=1000)
    monkeypatch.setattr(
        "agentdock.launcher.image.host_ca_certificates", lambda env: host_ca_certificates(env, anchor_dirs=[])
    )
    without = inputs_hash(spec)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    inputs = image_inputs(spec)
    assert CERT_A in [v for k, v in inputs.items() if k.startswith("certs/host-")]
    assert inputs_hash(spec) != without
    off = ImageSpec(repo=repo, uid=1000, gid=1000, host_certs=False)
    assert not any(k.startswith("certs/host-") for k in image_inputs(off))


@pytest.mark.parametrize(
    "log",
    [
        "npm ERR! code SELF_SIGNED_CERT_IN_CHAIN",
        "SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain",
        "curl: (60) SSL certificate problem: unable to get local issuer certificate",
    ],
)
def test_a_certificate_failure_in_the_build_log_says_what_to_do(log: str) -> None:
    hint = certificate_hint(log)
    assert hint is not None
    assert "/usr/local/share/ca-certificates" in hint and "--no-host-certs" in hint


def test_other_build_failures_get_no_certificate_hint() -> None:
    assert certificate_hint("E: Unable to locate package foo") is None
