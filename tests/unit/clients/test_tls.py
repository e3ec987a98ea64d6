"""shared.tls: in Lambda, httpx (as upstash-redis builds it) and http.client trust the layer's hashed CA directory.

A throwaway CA signs a loopback HTTPS server that answers like Upstash; the directory is written by the
packager's own function (``ship.cacerts.write_hashed_dir``). Trust must come from that directory alone:
with the setting off, or with a directory lacking the CA, verification fails.
"""

from __future__ import annotations

import datetime
import http.client
import http.server
import ipaddress
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import certifi
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from upstash_redis.asyncio import Redis

from shared import tls
from ship.cacerts import write_hashed_dir
from ship.layers import HTTP
from tests.support.aio import run

NOW = datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Throwaway"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey, *, ca: bool
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(hours=1))
        .not_valid_after(NOW + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


class _Upstash(http.server.BaseHTTPRequestHandler):
    """Answers every command as Upstash answers PING (base64, the encoding upstash-redis asks for)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = b'{"result":"UE9ORw=="}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes]]:
    """An HTTPS server on loopback whose certificate a fresh CA signed; its URL and the CA's PEM."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Throwaway Root CA", "Throwaway Root CA", ca_key, ca_key, ca=True)
    leaf = _certificate("127.0.0.1", "Throwaway Root CA", server_key, ca_key, ca=False)
    folder = tmp_path_factory.mktemp("server")
    (folder / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstash)  # listening once constructed
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", ca.public_bytes(serialization.Encoding.PEM)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Lambda's environment with no operator CA setting; the layer's CA folder is ``tmp_path/ca``."""
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "health")
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR"):  # set, then removed: restored after the test either way
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    monkeypatch.setattr(tls, "LAYER_CA_DIR", str(tmp_path / "ca"))
    tls.https_context.cache_clear()
    yield tmp_path / "ca"
    tls.https_context.cache_clear()


async def _ping(url: str) -> object:
    """PING through upstash-redis's own httpx.AsyncClient (built with no TLS argument, so from the environment)."""
    redis = Redis(url=url, token="t", rest_retries=0, allow_telemetry=False)
    try:
        return await redis.ping()
    finally:
        await redis.close()


def test_upstash_client_verifies_the_server_through_the_layer_directory(
    server: tuple[str, bytes], in_lambda: Path
) -> None:
    # given the layer's folder hashed from a bundle holding the server's CA, in Lambda
    url, ca = server
    write_hashed_dir(ca, in_lambda)
    # when trust is pointed at it and upstash-redis builds its client
    tls.trust_layer_cas()
    # then the handshake verifies and the command answers
    assert run(_ping(url)) == "PONG"


def test_upstash_client_refuses_the_server_without_the_setting(server: tuple[str, bytes], in_lambda: Path) -> None:
    # given the same folder, but trust left at httpx's default (certifi's bundle, which lacks the CA)
    url, ca = server
    write_hashed_dir(ca, in_lambda)
    # when upstash-redis calls without trust_layer_cas
    # then verification fails
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        run(_ping(url))


def test_upstash_client_refuses_the_server_when_the_directory_lacks_its_ca(
    server: tuple[str, bytes], in_lambda: Path
) -> None:
    # given the layer's folder hashed from certifi's bundle, which lacks the throwaway CA
    url, _ = server
    write_hashed_dir(Path(certifi.where()).read_bytes(), in_lambda)
    # when trust is pointed at it
    tls.trust_layer_cas()
    # then verification fails
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        run(_ping(url))


def test_the_operators_ca_file_wins_over_the_layer_directory(
    server: tuple[str, bytes], in_lambda: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a folder that trusts the server, and an operator's SSL_CERT_FILE that does not
    url, ca = server
    write_hashed_dir(ca, in_lambda)
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    # when trust is pointed at the layer's folder
    tls.trust_layer_cas()
    # then it was not: the operator's file decides, and it refuses the server
    assert "SSL_CERT_DIR" not in os.environ
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        run(_ping(url))


def test_https_context_for_http_client_trusts_the_layer_directory_alone(
    server: tuple[str, bytes], in_lambda: Path
) -> None:
    # given the layer's folder hashed from the server's CA, in Lambda
    url, ca = server
    write_hashed_dir(ca, in_lambda)
    # when http.client (the SigV4 calls) connects with https_context
    context = tls.https_context()
    assert context is not None
    connection = http.client.HTTPSConnection(url.removeprefix("https://"), timeout=5, context=context)
    try:
        connection.request("POST", "/", body=b"[]")
        # then the server is verified and answers
        assert connection.getresponse().read() == b'{"result":"UE9ORw=="}'
    finally:
        connection.close()


def test_https_context_is_the_default_outside_lambda(in_lambda: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a layer folder on disk but no Lambda
    in_lambda.mkdir()
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    # then http.client keeps its default context and httpx its default bundle
    assert tls.https_context() is None
    tls.trust_layer_cas()
    assert "SSL_CERT_DIR" not in os.environ


def test_the_packager_writes_the_folder_the_runtime_reads() -> None:
    # the http layer's folder sits at the layer's root, where shared/tls.py looks for it
    assert HTTP.ca_dir == tls.CA_DIR_NAME
