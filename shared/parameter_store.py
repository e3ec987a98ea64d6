"""SSM ``GetParameters`` as one SigV4-signed HTTPS request, with the standard library only.

A function's one AWS call at cold start is resolving its secret references. Through boto3 that
call first imports botocore and loads its service models (about 150 ms of init on Lambda, more
than the call itself), so it is made here instead: Lambda puts the function role's credentials in
the environment, and SSM's JSON protocol is a POST signed with Signature Version 4. Where the
environment holds no credentials (a profile on a laptop), ``credentials_from_environment`` is None
and the caller falls back to boto3 (``shared.settings``).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SERVICE = "ssm"
TARGET = "AmazonSSM.GetParameters"
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_NAMES_PER_CALL = 10  # GetParameters' own limit
TIMEOUT_SECONDS = 3
ATTEMPTS = 2  # one retry on a throttle, a 5xx or a dropped connection


class SsmError(Exception):
    """SSM refused the call, could not be reached, or does not hold a requested name."""


@dataclass(frozen=True)
class Credentials:
    """The access key, secret and session token Lambda sets for the function's role."""

    access_key: str
    secret_key: str
    token: str | None = None


def credentials_from_environment() -> Credentials | None:
    """The role's credentials from ``AWS_ACCESS_KEY_ID`` and friends, or None when unset."""
    access_key, secret_key = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        return None
    return Credentials(access_key, secret_key, os.environ.get("AWS_SESSION_TOKEN") or None)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def endpoint(for_region: str) -> str:
    """SSM's URL: ``AWS_ENDPOINT_URL_SSM`` / ``AWS_ENDPOINT_URL`` as boto3 reads them (moto), else AWS's."""
    configured = os.environ.get("AWS_ENDPOINT_URL_SSM") or os.environ.get("AWS_ENDPOINT_URL")
    return (configured or f"https://ssm.{for_region}.amazonaws.com").rstrip("/") + "/"


def sign(
    url: str, headers: Mapping[str, str], body: bytes, credentials: Credentials, at: datetime.datetime, where: str
) -> dict[str, str]:
    """``headers`` plus ``X-Amz-Date``, the session token and the SigV4 ``Authorization`` for a POST."""
    amz_date = at.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    parts = urllib.parse.urlsplit(url)
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed.update({"host": parts.netloc, "x-amz-date": amz_date})
    if credentials.token:
        signed["x-amz-security-token"] = credentials.token
    names = ";".join(sorted(signed))
    canonical = "\n".join(
        [
            "POST",
            urllib.parse.quote(parts.path or "/", safe="/~"),
            "",
            "".join(f"{k}:{signed[k]}\n" for k in sorted(signed)),
            names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{where}/{SERVICE}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (day, where, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {**headers, "X-Amz-Date": amz_date}
    if credentials.token:
        out["X-Amz-Security-Token"] = credentials.token
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    return out


def get_parameters(names: Sequence[str], credentials: Credentials, decrypt: bool = True) -> dict[str, str]:
    """``{name: value}`` for every name (decrypted SecureStrings), 10 names per call; ``SsmError`` when
    one is missing or SSM refuses. Values are never put in an error message, names only."""
    where = region()
    url = endpoint(where)
    found: dict[str, str] = {}
    unique = sorted(set(names))
    for start in range(0, len(unique), MAX_NAMES_PER_CALL):
        batch = unique[start : start + MAX_NAMES_PER_CALL]
        answer = _call(url, where, credentials, {"Names": batch, "WithDecryption": decrypt})
        invalid = [str(name) for name in answer.get("InvalidParameters", [])]
        if invalid:
            raise SsmError(f"SSM holds no parameter {sorted(invalid)}")
        found.update({str(p["Name"]): str(p["Value"]) for p in answer.get("Parameters", [])})
    missing = [name for name in unique if name not in found]
    if missing:
        raise SsmError(f"SSM returned no value for {missing}")
    return found


def _call(url: str, where: str, credentials: Credentials, payload: dict[str, object]) -> dict[str, list[Any]]:
    body = json.dumps(payload).encode()
    for attempt in range(1, ATTEMPTS + 1):
        headers = sign(
            url,
            {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET},
            body,
            credentials,
            datetime.datetime.now(datetime.UTC),
            where,
        )
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310  # our endpoint
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                answer: dict[str, list[Any]] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            kind = _error_type(exc)
            if attempt < ATTEMPTS and (exc.code >= 500 or "Throttl" in kind):
                continue
            raise SsmError(f"SSM {TARGET} answered {exc.code} {kind}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt < ATTEMPTS:
                continue
            raise SsmError(f"SSM unreachable: {type(exc).__name__}") from exc
    raise SsmError("SSM unreachable")  # pragma: no cover  (the loop always returns or raises)


def _error_type(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("__type", "")).rsplit("#", 1)[-1]
    except ValueError:
        return ""
