"""The webhook stays light (no model code), and the WhatsApp secrets follow the settings rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.settings import get_settings

REPO = Path(__file__).resolve().parents[3]


def test_the_webhook_imports_neither_the_model_nor_the_sender() -> None:
    # given a fresh interpreter / when the webhook function is imported
    code = (
        "import sys, functions.webhooks.whatsapp.handler;"
        " print(sorted(m for m in ('litellm', 'shared.llm.gateway', 'shared.turns.service',"
        " 'shared.whatsapp.outbound') if m in sys.modules))"
    )
    env = {"APP_ENV": "dev", "DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "SUPABASE_JWT_SECRET": "x" * 40}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    # then none of them was loaded
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"])
def test_a_placeholder_secret_is_refused_outside_dev(settings_env: pytest.MonkeyPatch, name: str) -> None:
    settings_env.setenv("APP_ENV", "prod")
    settings_env.setenv(name, "changeme")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match=name):
        get_settings()


def test_the_graph_api_defaults_and_its_url_must_be_http(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.delenv("WHATSAPP_GRAPH_URL")
    get_settings.cache_clear()
    settings = get_settings()
    assert (settings.whatsapp_graph_url, settings.whatsapp_graph_version) == ("https://graph.facebook.com", "v21.0")
    settings_env.setenv("WHATSAPP_GRAPH_URL", "graph.facebook.com")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError):
        get_settings()


def test_the_secrets_may_be_ssm_references(settings_env: pytest.MonkeyPatch) -> None:
    # given both secrets set as serverless.yml sets them, and Parameters answering for SSM
    import shared.settings

    stored = {"/ca/test/whatsapp-app-secret": "s3cr3t-0f-the-app", "/ca/test/whatsapp-verify-token": "vt-0f-meta"}
    settings_env.setattr(
        shared.settings,
        "resolve_references",
        lambda values, force=False: {k: stored.get(v.removeprefix("ssm:"), v) for k, v in values.items()},
    )
    settings_env.setenv("WHATSAPP_APP_SECRET", "ssm:/ca/test/whatsapp-app-secret")
    settings_env.setenv("WHATSAPP_VERIFY_TOKEN", "ssm:/ca/test/whatsapp-verify-token")
    get_settings.cache_clear()
    # when settings load / then the references were resolved (moto is not used: it would reset the tier's queues)
    settings = get_settings()
    assert settings.whatsapp_app_secret is not None
    assert settings.whatsapp_verify_token is not None
    assert settings.whatsapp_app_secret.get_secret_value() == "s3cr3t-0f-the-app"
    assert settings.whatsapp_verify_token.get_secret_value() == "vt-0f-meta"
