"""shared.parameter_store signs GetParameters exactly as botocore's SigV4 signer does, and batches by ten."""

from __future__ import annotations

import datetime
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from shared import parameter_store as ssm
from shared import sigv4

AT = datetime.datetime(2026, 11, 30, 10, 0, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEB4aCXVzLWVhc3QtMSJHMEUCIQD"], ids=["keys", "session"])
@pytest.mark.parametrize("url", ["https://ssm.sa-east-1.amazonaws.com/", "http://127.0.0.1:5000/"])
def test_the_signature_is_botocores(token: str | None, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a GetParameters body and the role's credentials
    body = b'{"Names": ["/conversion-agents/prod/database-url"], "WithDecryption": true}'
    headers = {"Content-Type": ssm.SSM.content_type, "X-Amz-Target": "AmazonSSM.GetParameters"}
    credentials = ssm.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    # when both sign it at the same instant
    ours = sigv4.sign(url, headers, body, credentials, AT, "sa-east-1", "ssm")
    theirs = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: AT.replace(tzinfo=None))
    SigV4Auth(BotoCredentials("AKIDEXAMPLE", credentials.secret_key, token), "ssm", "sa-east-1").add_auth(theirs)
    # then the Authorization header (and with it the signature) is the same
    assert ours["Authorization"] == theirs.headers["Authorization"]
    assert ours["X-Amz-Date"] == theirs.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == theirs.headers.get("X-Amz-Security-Token")


def test_more_than_ten_names_take_one_call_per_ten(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given 23 parameters in SSM (GetParameters takes at most 10 names)
    for variable, value in aws.environment().items():
        monkeypatch.setenv(variable, value)
    client = boto3.client("ssm", region_name="us-east-1", endpoint_url=aws.endpoint)
    names = [f"/client-batch-test/p{i:02d}" for i in range(23)]
    for name in names:
        client.put_parameter(Name=name, Value=f"value of {name}", Type="SecureString", Overwrite=True)
    calls: list[int] = []
    real = ssm._call
    monkeypatch.setattr(ssm, "_call", lambda *a: calls.append(len(a[3]["Names"])) or real(*a))  # type: ignore[func-returns-value]
    # when they are read / then three calls returned every value, decrypted
    found = ssm.get_parameters(names, ssm.Credentials("local", "local"))
    assert calls == [10, 10, 3]
    assert found == {name: f"value of {name}" for name in names}
