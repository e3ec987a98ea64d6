"""certifi's CA bundle as a hashed directory (what ``openssl rehash`` writes), for the http layer.

A TLS context built from a PEM bundle (``cafile=certifi.where()``, httpx's default) parses every
certificate when it is made: 20-28 ms at a function's first Upstash call. One built on a hashed
directory (``capath``) reads, during a handshake, only the file named after the issuer's subject
hash. Files are named ``<hash>.<n>`` (``n`` counts the certificates sharing a hash, in bundle
order) and written as plain files: a layer zip keeps no symlinks. The hash is OpenSSL's own
(``openssl x509 -subject_hash``); the same function builds the layer and the tests' directories.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(.+?)-----END CERTIFICATE-----", re.DOTALL)


def subject_hash(der: bytes) -> str:
    """``openssl x509 -subject_hash`` of a DER certificate: the file name OpenSSL looks it up by in a ``capath``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("openssl not found: it names the http layer's CA files (apt-get install openssl)")
    command = [openssl, "x509", "-inform", "DER", "-noout", "-subject_hash"]
    return subprocess.run(command, input=der, capture_output=True, check=True).stdout.decode().strip()


def pem_certificates(bundle: bytes) -> list[bytes]:
    """The DER certificates of a PEM bundle, in order."""
    return [base64.b64decode(b"".join(body.split())) for body in _PEM.findall(bundle)]


def write_hashed_dir(bundle: bytes, dest: Path) -> dict[str, bytes]:
    """Write each certificate of ``bundle`` into ``dest`` as ``<subject hash>.<n>`` (PEM); the files written."""
    files: dict[str, bytes] = {}
    for der in pem_certificates(bundle):
        digest = subject_hash(der)
        n = sum(1 for name in files if name.startswith(f"{digest}."))
        body = base64.encodebytes(der).replace(b"\n", b"")
        lines = b"\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        files[f"{digest}.{n}"] = b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"
    dest.mkdir(parents=True, exist_ok=True)
    for name, pem in sorted(files.items()):
        (dest / name).write_bytes(pem)
    return files
