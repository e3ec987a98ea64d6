"""The built artefact as Lambda sees it: each function's zip and layers, their sizes, and a
read-only copy laid out like Lambda (``/var/task`` for the function, ``/opt/python`` for its layers)."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ship.build import BUILD, PACKAGE, host_arch, target_arch
from ship.layers import LAYERS

TEMPLATE = PACKAGE / "cloudformation-template-update-stack.json"
# Lambda's limit for a function and its layers, unzipped, is 262,144,000 bytes; we keep a margin.
MAX_UNZIPPED = 250_000_000
# A function that does not call the model stays small: its cold start reads less.
MAX_UNZIPPED_NO_MODEL = 30 * 1024 * 1024


@dataclass(frozen=True)
class Function:
    """One packaged function: its zip, its layers (in order) and the environment the template sets."""

    name: str
    handler: str
    zip: Path
    layers: tuple[str, ...]
    environment: dict[str, Any]

    def layer_zips(self, arch: str) -> list[Path]:
        return [BUILD / "layers" / arch / f"{layer}.zip" for layer in self.layers]

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0].replace("/", ".")


def built() -> bool:
    """True when ``python3 scripts/dev.py package`` has produced the artefact and the host's layers."""
    layers = [BUILD / "layers" / arch / f"{name}.zip" for arch in {target_arch(), host_arch()} for name in LAYERS]
    return TEMPLATE.exists() and (BUILD / "runtime").is_dir() and all(path.exists() for path in layers)


def functions() -> list[Function]:
    """Every function of the CloudFormation template ``serverless package`` wrote."""
    template = json.loads(TEMPLATE.read_text())
    resources: dict[str, Any] = template["Resources"]
    layer_files = {
        logical: Path(res["Properties"]["Content"]["S3Key"]).stem
        for logical, res in resources.items()
        if res["Type"] == "AWS::Lambda::LayerVersion"
    }
    state = json.loads((PACKAGE / "serverless-state.json").read_text())
    found = []
    for name in state["service"]["functions"]:
        logical = name[0].upper() + name[1:] + "LambdaFunction"
        props = resources[logical]["Properties"]
        found.append(
            Function(
                name=name,
                handler=props["Handler"],
                zip=PACKAGE / Path(props["Code"]["S3Key"]).name,
                layers=tuple(layer_files[layer["Ref"]] for layer in props.get("Layers", [])),
                environment=props.get("Environment", {}).get("Variables", {}),
            )
        )
    return sorted(found, key=lambda f: f.name)


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(info.file_size for info in zf.infolist())


def contributors(paths: list[Path], top: int = 10) -> list[tuple[str, int]]:
    """The largest top-level entries (packages, ``*.libs``) across the given zips, unzipped bytes."""
    sizes: Counter[str] = Counter()
    for path in paths:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                parts = info.filename.split("/")
                key = "/".join(parts[:2]) if parts[0] in ("python", "functions") and len(parts) > 2 else parts[0]
                sizes[f"{path.stem}:{key}"] += info.file_size
    return sizes.most_common(top)


def extract(path: Path, dest: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(dest / info.filename, mode)


def make_read_only(root: Path) -> None:
    """``chmod -R a-w``: as on Lambda, nothing under it can be written (no bytecode cache either)."""
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode):
            path.chmod(stat.S_IMODE(mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(stat.S_IMODE(path.lstat().st_mode) | stat.S_IWUSR)


def lay_out(function: Function, arch: str, root: Path) -> tuple[Path, Path]:
    """``root/task`` (the function's zip) and ``root/opt`` (its layers, in order), read-only."""
    task, opt = root / "task", root / "opt"
    extract(function.zip, task)
    for layer in function.layer_zips(arch):
        extract(layer, opt)
    make_read_only(task)
    make_read_only(opt)
    return task, opt
