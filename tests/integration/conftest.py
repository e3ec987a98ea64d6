"""Integration tier: the fake OpenAI-compatible provider (``tests/support/fake_openai.py``) for every test here."""

from tests.support.fake_openai import fake_provider

__all__ = ["fake_provider"]
