"""certifi's CA bundle as a hashed directory (what ``openssl rehash`` writes), for the http layer.

A TLS context built from a PEM bundle (``cafile=certifi.where()``, httpx's default) parses every
certificate when it is made: 20-28 ms at a function's first Upstash call. One built on a hashed
directory (``capath``) reads, during a handshake, only the file named after the issuer's subject
hash. Files are named ``<hash>.<n>`` (``n`` counts the certificates sharing a hash, in bundle
order) and written as plain files: a layer zip keeps no symlinks. Standard library only, so the
same function builds the layer and the tests' directories.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(.+?)-----END CERTIFICATE-----", re.DOTALL)
# The string types OpenSSL canonicalises in a name (ASN1_MASK_CANON), by tag, and how each decodes.
_CANON = {0x0C: "utf-8", 0x13: "latin-1", 0x14: "latin-1", 0x16: "latin-1", 0x1A: "latin-1", 0x1C: "utf-32-be"}
_CANON[0x1E] = "utf-16-be"
_UTF8STRING = 0x0C
_SPACE = b" \t\n\v\f\r"


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """The DER element at ``pos``: its tag, where its content starts and where it ends."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The elements inside ``data[start:end]``: (tag, element start, content start, end) each."""
    out = []
    while start < end:
        tag, content, stop = _tlv(data, start)
        out.append((tag, start, content, stop))
        start = stop
    return out


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _canon_value(tag: int, value: bytes) -> bytes:
    """OpenSSL's ``asn1_string_canon``: UTF-8, outer space trimmed, inner runs as one space, ASCII lower-cased."""
    text = value.decode(_CANON[tag]).encode()
    text = text.strip(_SPACE)
    out = bytearray()
    i = 0
    while i < len(text):
        byte = text[i]
        if byte in _SPACE:
            out.append(0x20)
            while i < len(text) and text[i] in _SPACE:
                i += 1
            continue
        out.append(byte + 32 if 0x41 <= byte <= 0x5A else byte)
        i += 1
    return _der(_UTF8STRING, bytes(out))


def subject_hash(der: bytes) -> str:
    """``openssl x509 -subject_hash`` of a DER certificate: SHA-1 of the subject's canonical encoding, 4 bytes LE."""
    (_, _, cert, cert_end) = _children(der, 0, len(der))[0]
    (_, _, tbs, tbs_end) = _children(der, cert, cert_end)[0]
    fields = _children(der, tbs, tbs_end)
    if fields[0][0] == 0xA0:  # the explicit [0] version
        fields = fields[1:]
    _, _, name, name_end = fields[4]  # serial, signature, issuer, validity, subject
    canon = bytearray()
    for _, _, rdn, rdn_end in _children(der, name, name_end):
        entries = []
        for _, _, attr, attr_end in _children(der, rdn, rdn_end):
            (_, oid_start, _, oid_end), (tag, _, value, value_end) = _children(der, attr, attr_end)
            value_der = _canon_value(tag, der[value:value_end]) if tag in _CANON else der[oid_end:value_end]
            entries.append(_der(0x30, der[oid_start:oid_end] + value_der))
        canon += _der(0x31, b"".join(sorted(entries)))  # a DER SET OF is sorted
    return f"{int.from_bytes(hashlib.sha1(canon).digest()[:4], 'little'):08x}"  # noqa: S324  (OpenSSL's name hash)


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
