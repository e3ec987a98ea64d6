"""The http layer's hashed CA folder (``ship.cacerts``): exactly certifi's certificates, named as OpenSSL looks them up.

In Lambda, httpx and the SigV4 calls trust this folder instead of parsing certifi's bundle
(``shared/tls.py``), so it must hold every certificate of the bundle the layer ships, once, under
``<openssl x509 -subject_hash>.<n>``, as plain files.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import pytest

from ship import artefact
from ship.build import BUILD, host_arch, target_arch
from ship.cacerts import pem_certificates
from ship.layers import HTTP

pytestmark = [
    pytest.mark.artefact,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


def openssl_subject_hash(der: bytes) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-subject_hash"], input=der, capture_output=True, check=True
    )
    return out.stdout.decode().strip()


@pytest.mark.parametrize("arch", sorted({target_arch(), host_arch()}))
def test_the_http_layer_holds_certifis_certificates_hashed_for_openssl(
    built_artefact: list[artefact.Function], arch: str
) -> None:
    # given the http layer as built
    assert HTTP.ca_dir is not None
    with zipfile.ZipFile(BUILD / "layers" / arch / "http.zip") as zf:
        bundle = zf.read("python/certifi/cacert.pem")
        entries = [i for i in zf.infolist() if i.filename.startswith(f"{HTTP.ca_dir}/")]
        files = {i.filename.removeprefix(f"{HTTP.ca_dir}/"): zf.read(i) for i in entries}
        modes = {(i.external_attr >> 16) & 0o170000 for i in entries}
    # then every certificate of the bundle is there once, and nothing else
    certificates = pem_certificates(bundle)
    assert len(certificates) > 100
    assert all(len(pem_certificates(pem)) == 1 for pem in files.values())
    assert sorted(pem_certificates(pem)[0] for pem in files.values()) == sorted(certificates)
    # as plain files (a zip keeps no symlinks) named <subject hash>.<n>, n counting from 0 per hash
    assert modes == {0o100000}
    for name, pem in files.items():
        digest, _, n = name.partition(".")
        assert digest == openssl_subject_hash(pem_certificates(pem)[0]), name
        assert all(f"{digest}.{k}" in files for k in range(int(n))), name
