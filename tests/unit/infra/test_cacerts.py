"""ship.cacerts: certifi's bundle as a hashed directory, named as OpenSSL names it (``openssl rehash``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import certifi
import pytest

from ship.cacerts import pem_certificates, write_hashed_dir


def rehashed(bundle: bytes, folder: Path) -> dict[str, bytes]:
    """What ``openssl rehash`` names each certificate of ``bundle``: ``{hash.n: PEM}`` (symlinks resolved)."""
    folder.mkdir()
    for i, der in enumerate(pem_certificates(bundle)):
        pem = subprocess.run(
            ["openssl", "x509", "-inform", "DER", "-outform", "PEM"], input=der, capture_output=True, check=True
        ).stdout
        (folder / f"cert{i:04d}.pem").write_bytes(pem)
    subprocess.run(["openssl", "rehash", str(folder)], check=True, capture_output=True)
    return {p.name: p.resolve().read_bytes() for p in folder.iterdir() if p.is_symlink()}


def by_hash(files: dict[str, bytes]) -> dict[str, set[bytes]]:
    """``{hash: the certificates under it}``: the suffix of a shared hash depends on listing order."""
    grouped: dict[str, set[bytes]] = {}
    for name, pem in files.items():
        grouped.setdefault(name.split(".")[0], set()).update(pem_certificates(pem))
    return grouped


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_every_certifi_certificate_is_named_by_its_openssl_subject_hash(tmp_path: Path) -> None:
    # given certifi's bundle
    bundle = Path(certifi.where()).read_bytes()
    # when it is written as a hashed directory
    written = write_hashed_dir(bundle, tmp_path / "mine")
    # then one plain file per certificate, named as openssl rehash names it
    assert len(written) == len(pem_certificates(bundle)) > 100
    assert sorted(p.name for p in (tmp_path / "mine").iterdir() if p.is_file() and not p.is_symlink()) == sorted(
        written
    )
    assert by_hash(written) == by_hash(rehashed(bundle, tmp_path / "openssl"))


def test_writing_twice_gives_the_same_files(tmp_path: Path) -> None:
    bundle = Path(certifi.where()).read_bytes()
    first = write_hashed_dir(bundle, tmp_path / "a")
    assert write_hashed_dir(bundle, tmp_path / "b") == first
    assert {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()} == first
