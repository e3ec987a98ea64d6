"""The LLM gateway: LiteLLM Router, tool schemas, the local model. Imports nothing, so ``import shared`` stays light."""
