"""TLS trust in Lambda: certifi's CAs from the http layer's hashed directory, read when a handshake needs one.

httpx builds its context from certifi's PEM bundle, parsing all of it (20-28 ms at a function's
first Upstash call), and ``http.client``'s default context loads the system bundle the same way.
The http layer also ships certifi's certificates as a hashed directory (``ship/cacerts.py``,
``/opt/ca-certificates``): a context on it reads only the issuer's file during a handshake. The
trusted set stays exactly certifi's. Only in Lambda, and never over the operator's
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from shared.coldstart_gc import in_lambda

if TYPE_CHECKING:
    import ssl

# Where the packager writes it: the layer's root, beside ``python/`` (this file is ``python/shared/tls.py``).
CA_DIR_NAME = "ca-certificates"
LAYER_CA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), CA_DIR_NAME)


def layer_ca_dir() -> str | None:
    """The layer's hashed CA directory when this is Lambda, it is there and the operator chose no CA file or dir."""
    if (
        not in_lambda()
        or os.environ.get("SSL_CERT_FILE")
        or os.environ.get("SSL_CERT_DIR", LAYER_CA_DIR) != LAYER_CA_DIR
    ):
        return None
    return LAYER_CA_DIR if os.path.isdir(LAYER_CA_DIR) else None


def trust_layer_cas() -> None:
    """Point httpx (``trust_env``: ``SSL_CERT_DIR``) at the layer's directory, before a client is built.

    Only ``SSL_CERT_DIR`` is set, so what reads OpenSSL's default paths (``set_default_verify_paths``)
    still finds the system bundle; ``https_context`` is for the calls that need certifi's set alone.
    """
    directory = layer_ca_dir()
    if directory is not None:
        os.environ["SSL_CERT_DIR"] = directory


@lru_cache(maxsize=1)
def https_context() -> ssl.SSLContext | None:
    """A client context on the layer's directory for ``http.client``; None (the default context) elsewhere."""
    directory = layer_ca_dir()
    if directory is None:
        return None
    import ssl

    return ssl.create_default_context(capath=directory)
