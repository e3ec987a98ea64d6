"""The deterministic local model: a LiteLLM custom provider for development and tests, never shipped."""
