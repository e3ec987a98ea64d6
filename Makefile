# Convenience targets; each is also a `python scripts/dev.py` command, which needs only Python.
PY ?= python3

.PHONY: up test lint bench lock layer clean

up:        ## set up and run the whole system locally
	$(PY) scripts/dev.py up

test:      ## set up and run lint, types and every test tier
	$(PY) scripts/dev.py test

lint:
	$(PY) scripts/dev.py lint

bench:     ## print the benchmark table
	$(PY) scripts/dev.py bench

lock:      ## re-resolve requirements/*.txt with hashes (needs uv)
	uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements/layer.txt
	uv pip compile pyproject.toml --extra llm --python-version 3.11 --generate-hashes -o requirements/layer-llm.txt
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements/dev.txt
	uv pip compile pyproject.toml --extra llm --python-version 3.12 --python-platform aarch64-manylinux_2_28 --generate-hashes -o requirements/lambda-arm64.txt
	uv pip compile requirements/bench.in --python-version 3.11 --generate-hashes -o requirements/bench.txt

layer:     ## build the Lambda layer into build/layer (python3.12, arm64)
	rm -rf build/layer && mkdir -p build/layer/python
	$(PY) -m pip install --require-hashes --no-deps --only-binary=:all: --platform manylinux_2_28_aarch64 \
	  --python-version 3.12 --implementation cp -r requirements/lambda-arm64.txt --target build/layer/python
	cp -r shared build/layer/python/shared
	mkdir -p build/layer/python/infra && cp -r infra/litellm build/layer/python/infra/litellm

clean:
	rm -rf build .venv .pytest_cache .mypy_cache .ruff_cache
