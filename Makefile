# Convenience targets; each is also a `python scripts/dev.py` command, which needs only Python.
PY ?= python3
UV ?= uv
# What Lambda's python3.12 runtime ships (boto3 and its dependencies): left out of the layer locks.
RUNTIME := --no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer \
  --no-emit-package jmespath --no-emit-package python-dateutil --no-emit-package six --no-emit-package urllib3
LAYER = $(UV) pip compile pyproject.toml --python-version 3.12 --generate-hashes $(RUNTIME)

.PHONY: up test lint bench lock package clean

up:        ## set up and run the whole system locally
	$(PY) scripts/dev.py up

test:      ## set up and run lint, types and every test tier
	$(PY) scripts/dev.py test

lint:
	$(PY) scripts/dev.py lint

bench:     ## print the benchmark tables (the artefact's cold init needs `make package` first)
	$(PY) scripts/dev.py bench

package:   ## build the layers and `serverless package --stage ci` into build/ (python3.12, arm64)
	$(PY) scripts/dev.py package

lock:      ## re-resolve requirements/*.txt with hashes (needs uv: pip install uv)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements/dev.txt
	for pair in arm64:aarch64 x86_64:x86_64; do arch=$${pair%%:*}; machine=$${pair##*:}; \
	  $(LAYER) --extra llm --python-platform $$machine-manylinux_2_28 -o requirements/layer-llm-$$arch.txt && \
	  $(LAYER) -c requirements/layer-llm-$$arch.txt --python-platform $$machine-manylinux_2_28 \
	    -o requirements/layer-http-$$arch.txt || exit 1; \
	done
	$(UV) pip compile requirements/bench.in --python-version 3.11 --generate-hashes -o requirements/bench.txt

clean:
	rm -rf build .venv .pytest_cache .mypy_cache .ruff_cache node_modules
