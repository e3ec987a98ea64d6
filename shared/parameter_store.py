"""SSM ``GetParameters`` as one SigV4-signed HTTPS request (``shared.sigv4``), with the standard library only.

A function's one AWS call at cold start is resolving its secret references. Through boto3 that
call first imports botocore and loads its service models (about 150 ms of init on Lambda, more
than the call itself), so it is made here instead: Lambda puts the function role's credentials in
the environment, and SSM's JSON protocol is a POST signed with Signature Version 4. Where the
environment holds no credentials (a profile on a laptop), ``credentials_from_environment`` is None
and the caller falls back to boto3 (``shared.settings``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.sigv4 import (
    AwsCallError,
    Credentials,
    JsonApi,
    Retry,
    credentials_from_environment,
    endpoint,
    post_json,
    region,
)

__all__ = ["Credentials", "SsmError", "credentials_from_environment", "get_parameters"]

SSM = JsonApi("ssm", "AmazonSSM", "application/x-amz-json-1.1")
OPERATION = "GetParameters"
MAX_NAMES_PER_CALL = 10  # GetParameters' own limit
# At cold start, where a burst of new containers all read their secrets at once and SSM's standard
# throughput (40 GetParameters a second per account and region) throttles them: five retries, paused
# up to 0.1, 0.2, 0.4, 0.8 and 1.6 s (3.1 s at worst, about half that on average), inside Lambda's
# 10 s init. A fleet that starts more containers than that at once needs SSM's higher throughput
# setting (README, "Rotation").
AT_COLD_START = Retry(attempts=6, base_seconds=0.1, cap_seconds=1.6)


class SsmError(Exception):
    """SSM refused the call, could not be reached, or does not hold a requested name."""


def get_parameters(names: Sequence[str], credentials: Credentials, decrypt: bool = True) -> dict[str, str]:
    """``{name: value}`` for every name (decrypted SecureStrings), 10 names per call; ``SsmError`` when
    one is missing or SSM refuses. Values are never put in an error message, names only."""
    where = region()
    url = endpoint(SSM.service, where)
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
    try:
        return post_json(url, SSM, OPERATION, payload, credentials, where, AT_COLD_START)
    except AwsCallError as exc:
        if not exc.status:
            raise SsmError(f"SSM unreachable: {exc.kind}") from exc
        raise SsmError(f"SSM {OPERATION} answered {exc.status} {exc.kind}") from exc
