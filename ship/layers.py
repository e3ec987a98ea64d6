"""The Lambda layers: what each holds, from which lock file, and what is pruned from it.

Two layers, split by need. ``http`` holds ``shared/`` and what every function imports (FastAPI,
Mangum, pydantic, psycopg, Powertools, Upstash); ``llm`` holds LiteLLM and its dependencies plus
the Router config, only for the functions that call the model. A function that calls the model
lists both; the others list ``http`` alone. boto3/botocore are in neither: the runtime ships them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements"
ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34): every manylinux tag up to 2_28 loads.
PLATFORM_TAGS = ("manylinux_2_28_{m}", "manylinux_2_17_{m}", "manylinux2014_{m}")
# What Lambda's python3.12 runtime itself provides (boto3 and its dependencies): the lock files leave
# them out with uv's --no-emit-package, and the smoke test installs them beside the layers, as the runtime has them.
# Pruned from every layer: install bookkeeping and type stubs, read by no import (licenses stay).
COMMON_PRUNE = ("bin", "*.dist-info/RECORD", "*.dist-info/INSTALLER", "*.dist-info/REQUESTED", "**/*.pyi", "*-stubs")
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")


@dataclass(frozen=True)
class Layer:
    """One layer: its lock file, the repo folders copied in, paths pruned after install, and the
    paths that keep their ``.py`` (everything else ships as sourceless 3.12 bytecode)."""

    name: str
    description: str
    copy: tuple[str, ...]
    prune: tuple[str, ...]
    keep_source: tuple[str, ...] = ()
    # Packages installed by an earlier layer that this one relies on (left out here).
    base: str | None = None
    # A folder at the layer's root (``/opt/<name>``) with certifi's CAs hashed for OpenSSL (``ship.cacerts``);
    # written on every build, so it stays out of the installed wheels' stamp (``repr``).
    ca_dir: str | None = field(default=None, repr=False)

    def lock(self, arch: str) -> Path:
        return REQUIREMENTS / f"layer-{self.name}-{arch}.txt"


HTTP = Layer(
    name="http",
    description="shared/ and what every function imports; no litellm, no boto3 (the runtime has it)",
    copy=("shared",),
    prune=(
        # FastAPI asks `from pydantic import v1` for every route annotation, to reject v1 models, and
        # treats an ImportError as "no v1 model": without it, a cold start skips importing pydantic.v1.
        "pydantic/v1",
        # phonenumbers' geocoder and carrier data (about 20 MB): parsing, validation, formatting,
        # matching and the time-zone lookup (follow-ups) use the metadata and tzdata that stay.
        "phonenumbers/geodata",
        "phonenumbers/carrierdata",
        "phonenumbers/geocoder.py*",
        "phonenumbers/carrier.py*",
        # Powertools utilities nothing imports (FastAPI is our router; batch, parameters, data_classes,
        # parser, logging, metrics and tracing stay). The artefact smoke test imports every handler.
        *(
            f"aws_lambda_powertools/{p}"
            for p in (
                "event_handler",
                "utilities/idempotency",
                "utilities/feature_flags",
                "utilities/data_masking",
                "utilities/validation",
                "utilities/streaming",
                "utilities/kafka",
                "utilities/circuit_breaker",
                "utilities/auth_alpha",
            )
        ),
    ),
    # Our code keeps its source (tracebacks with lines); anyio's lazy importer parses its own
    # __init__.py source at import time (anyio/_lazyimport.py), so those two files keep theirs.
    keep_source=("shared", "anyio/__init__.py", "anyio/abc/__init__.py"),
    # httpx and http.client trust it in Lambda (shared/tls.py): no PEM bundle parsed per cold start.
    ca_dir="ca-certificates",
)
LLM = Layer(
    name="llm",
    description="LiteLLM and its dependencies, the Router config; for the functions that call the model",
    copy=("infra/litellm",),
    prune=(
        # The proxy's admin UI (a built Next.js site) and its Swagger assets: the Router never serves them.
        "litellm/proxy/_experimental/out",
        "litellm/proxy/swagger",
        "litellm/proxy/_lazy_openapi_snapshot.json",
    ),
    base="http",
)
LAYERS = {layer.name: layer for layer in (HTTP, LLM)}

_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(path: Path) -> dict[str, str]:
    """``{package: "name==version \\\\ --hash ..."}``, one block per pinned package of a uv lock."""
    blocks: dict[str, str] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        match = _REQUIREMENT.match(line)
        if match:
            current = canonical(match.group(1))
            blocks[current] = line
        elif current and line.startswith(" ") and line.strip().startswith("--hash"):
            blocks[current] += "\n" + line
        elif not line.startswith(" "):
            current = None
    return blocks


def pins(path: Path) -> dict[str, str]:
    """``{package: version}`` of a lock file."""
    return {name: str(_REQUIREMENT.match(block).group(2)) for name, block in parse_lock(path).items()}  # type: ignore[union-attr]


def requirements_for(layer: Layer, arch: str) -> str:
    """The hash-locked requirements this layer installs: its lock, less what its base layer has.

    A shared package must be pinned to the same version in both locks (the worker loads both
    layers into one ``/opt/python``), so a mismatch fails the build.
    """
    own = parse_lock(layer.lock(arch))
    if layer.base is None:
        return "\n".join(own.values()) + "\n"
    base = pins(LAYERS[layer.base].lock(arch))
    mine = pins(layer.lock(arch))
    clashes = [f"{n} {base[n]} != {v}" for n, v in mine.items() if n in base and base[n] != v]
    if clashes:
        raise SystemExit(f"{layer.lock(arch).name} and its base layer pin different versions: {', '.join(clashes)}")
    return "\n".join(block for name, block in own.items() if name not in base) + "\n"
