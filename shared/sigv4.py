"""One AWS JSON-protocol call (SSM, SQS) as a SigV4-signed HTTPS POST, with the standard library only.

Through boto3 a function's first AWS call first imports botocore and loads its service models (about
150 ms on Lambda, more than the call itself), so the calls HTTP functions make (SSM ``GetParameters``
at cold start, SQS ``SendMessage`` per request) are made here instead. Lambda puts the function
role's credentials in the environment; where it holds none (a profile on a laptop),
``credentials_from_environment`` is None and the caller uses boto3. A thread keeps its connection
to an endpoint open between calls, as botocore's pool does.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.tls import https_context

TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class Retry:
    """How often a call is tried, and the pause before each retry of a throttle or a 5xx.

    Exponential backoff with full jitter (AWS's own advice for throttles: a burst of callers that
    were refused together must not come back together): before try ``n + 1`` the pause is uniform
    in ``[0, min(cap, base * 2 ** (n - 1))]``. A dropped connection is retried at once: it is the
    container's kept connection gone stale, not the service pushing back.
    """

    attempts: int
    base_seconds: float
    cap_seconds: float

    def pause(self, tries_so_far: int) -> float:
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2 ** (tries_so_far - 1)))


# In a request (SQS SendMessage): two retries within about 0.15 s; past them the stored message waits
# for the requeue cron, and the request is not held.
IN_A_REQUEST = Retry(attempts=3, base_seconds=0.05, cap_seconds=0.1)


class AwsCallError(Exception):
    """AWS refused the call (``status`` and the error's short ``kind``) or could not be reached (status 0)."""

    def __init__(self, status: int, kind: str) -> None:
        super().__init__(f"{status} {kind}" if status else f"unreachable: {kind}")
        self.status = status
        self.kind = kind


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


def endpoint(service: str, for_region: str) -> str:
    """The service's URL: ``AWS_ENDPOINT_URL_<SERVICE>`` / ``AWS_ENDPOINT_URL`` as boto3 reads them, else AWS's."""
    configured = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    return (configured or f"https://{service}.{for_region}.amazonaws.com").rstrip("/") + "/"


def sign(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    at: datetime.datetime,
    where: str,
    service: str,
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
    scope = f"{day}/{where}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (day, where, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {**headers, "X-Amz-Date": amz_date}
    if credentials.token:
        out["X-Amz-Security-Token"] = credentials.token
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    return out


@dataclass(frozen=True)
class JsonApi:
    """An AWS service's JSON protocol: its signing name, target prefix and content type."""

    service: str  # "ssm"
    target_prefix: str  # "AmazonSSM"
    content_type: str  # "application/x-amz-json-1.1"


def post_json(
    url: str,
    api: JsonApi,
    operation: str,
    payload: Mapping[str, object],
    credentials: Credentials,
    where: str,
    retry: Retry = IN_A_REQUEST,
) -> dict[str, Any]:
    """The JSON answer to ``operation`` called with ``payload``; ``AwsCallError`` when refused or unreachable.

    A throttle, a 5xx or a dropped connection is tried again, up to ``retry.attempts`` tries (SSM reads
    and FIFO sends, which SQS deduplicates, are safe to repeat).
    """
    body = json.dumps(payload).encode()
    parts = urllib.parse.urlsplit(url)
    for attempt in range(1, retry.attempts + 1):
        headers = sign(
            url,
            {"Content-Type": api.content_type, "X-Amz-Target": f"{api.target_prefix}.{operation}"},
            body,
            credentials,
            datetime.datetime.now(datetime.UTC),
            where,
            api.service,
        )
        try:
            status, data = _post(parts, headers, body)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, a bad answer
            _forget(parts)
            if attempt < retry.attempts:
                continue
            raise AwsCallError(0, type(exc).__name__) from exc
        if status < 300:
            answer: dict[str, Any] = json.loads(data) if data else {}
            return answer
        kind = _error_type(data)
        if attempt < retry.attempts and (status >= 500 or "Throttl" in kind):
            time.sleep(retry.pause(attempt))
            continue
        raise AwsCallError(status, kind)
    raise AwsCallError(0, "no attempt")  # pragma: no cover  (the loop always returns or raises)


_connections = threading.local()


def _post(parts: urllib.parse.SplitResult, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
    """POST on this thread's open connection to the endpoint (opened on first use); status and body."""
    pool: dict[str, http.client.HTTPConnection] = _connections.__dict__.setdefault("pool", {})
    key = f"{parts.scheme}://{parts.netloc}"
    connection = pool.get(key)
    if connection is None:
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.netloc, timeout=TIMEOUT_SECONDS, context=https_context())
        else:
            connection = http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT_SECONDS)
        pool[key] = connection
    connection.request("POST", parts.path or "/", body=body, headers=dict(headers))
    response = connection.getresponse()
    data = response.read()
    if response.will_close:
        _forget(parts)
    return response.status, data


def _forget(parts: urllib.parse.SplitResult) -> None:
    """Close and drop this thread's connection to the endpoint (the next call opens a new one)."""
    pool: dict[str, http.client.HTTPConnection] = _connections.__dict__.setdefault("pool", {})
    connection = pool.pop(f"{parts.scheme}://{parts.netloc}", None)
    if connection is not None:
        connection.close()


def _error_type(data: bytes) -> str:
    """The error's short name (``ThrottlingException``) from a JSON-protocol error body."""
    try:
        return str(json.loads(data).get("__type", "")).rsplit("#", 1)[-1]
    except (ValueError, AttributeError):
        return ""
