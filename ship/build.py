"""``python -m ship.build``: the deploy artefacts, built the way Lambda will run them.

1. Each layer of ``ship.layers`` is installed for python3.12 on the target architecture from its
   hash-locked requirements (``--only-binary=:all:`` with manylinux tags that resolve), pruned, and
   compiled with a real Python 3.12 into ``__pycache__`` with ``--invalidation-mode unchecked-hash``
   (``/opt`` is read-only and zip extraction does not keep mtimes, so only a pyc that is never
   checked against its source is loaded as is); then zipped into ``build/layers/<arch>/<name>.zip``.
2. The functions are staged in ``build/service`` (``serverless.yml`` and ``functions/``, compiled
   the same way, paths recorded as ``/var/task/...``) and the Serverless Framework v3 pinned in
   ``package-lock.json`` packages them: ``serverless package --stage ci`` into ``build/package``,
   with no AWS credentials.

Layers are also built for this machine's architecture when it differs, so the smoke test and the
benchmark can run the same lock's artefact here (``tests/artefact``, ``bench.artefact``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

from ship.cacerts import write_hashed_dir
from ship.layers import ARCHITECTURES, COMMON_PRUNE, LAYERS, PLATFORM_TAGS, Layer, requirements_for

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build"
SERVICE = BUILD / "service"
PACKAGE = BUILD / "package"
STAGE = "ci"
PYTHON_VERSION = "3.12"
# Serverless v3 phones home for telemetry and notifications unless told not to; packaging needs no network.
SERVERLESS_ENV = {
    "SLS_TELEMETRY_DISABLED": "1",
    "SLS_NOTIFICATIONS_MODE": "off",
    "SLS_DEPRECATION_DISABLE": "*",
    "SLS_INTERACTIVE_SETUP_DISABLE": "1",
}


def _run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def find_python312() -> Path:
    """A CPython 3.12 to compile with: ``CA_PYTHON312``, PATH, then pyenv's versions."""
    candidates: list[Path] = []
    if os.environ.get("CA_PYTHON312"):
        candidates.append(Path(os.environ["CA_PYTHON312"]))
    if sys.version_info[:2] == (3, 12):
        candidates.append(Path(sys.executable))
    found = shutil.which("python3.12")
    if found:
        candidates.append(Path(found))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(pyenv.glob("versions/3.12*/bin/python3.12"), reverse=True)
    candidates += [Path("/usr/bin/python3.12"), Path("/usr/local/bin/python3.12")]
    for candidate in candidates:
        if not candidate.exists():
            continue
        out = subprocess.run(
            [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2], sys.implementation.name)"],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode == 0 and out.stdout.split() == [PYTHON_VERSION, "cpython"]:
            return candidate
    raise SystemExit(
        "No Python 3.12 found (looked at $CA_PYTHON312, python3.12 on PATH, pyenv's versions/3.12*, /usr/bin).\n"
        "The layers ship Python 3.12 bytecode, which only a 3.12 interpreter can write: install one\n"
        "(e.g. `pyenv install 3.12`, `apt-get install python3.12`) or point CA_PYTHON312 at it."
    )


def host_arch() -> str:
    machine = platform.machine().lower()
    return "arm64" if machine in ("aarch64", "arm64") else "x86_64"


def target_arch() -> str:
    config = yaml.safe_load((REPO / "serverless.yml").read_text())
    return str(config["provider"].get("architecture", "x86_64"))


def compile_tree(python312: Path, root: Path, recorded_as: str, keep_source: tuple[str, ...] = ()) -> None:
    """3.12 bytecode for every .py under ``root`` (ship/compile312.py), paths as Lambda sees them."""
    keep = [arg for path in keep_source for arg in ("--keep-source", path)]
    out = subprocess.run(
        [str(python312), str(REPO / "ship" / "compile312.py"), str(root), recorded_as, *keep],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(out.stdout)
    print(f"  {summary['compiled']} modules compiled ({summary['kept_source']} keep their source)", file=sys.stderr)
    for failure in summary["failures"]:
        # A file 3.12 cannot compile cannot be imported either (templates, py2 leftovers).
        print(f"  not compilable with 3.12, left as is: {failure}", file=sys.stderr)


def pip_install(requirements: str, target: Path, platform_args: list[str]) -> None:
    """Hash-checked wheels for python3.12 into ``target``: no dependency resolution, no build, no compile."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as reqs:
        reqs.write(requirements)
    try:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--no-deps",
                "--no-compile",
                "--only-binary=:all:",
                *platform_args,
                "--python-version",
                PYTHON_VERSION,
                "--target",
                str(target),
                "-r",
                reqs.name,
            ]
        )
    finally:
        os.unlink(reqs.name)


def install_layer(layer: Layer, arch: str, python312: Path, out: Path) -> None:
    """pip-install the layer's locked wheels for python3.12/``arch`` into ``out/python``, prune, compile;
    certifi's CAs hashed into ``out/<ca_dir>`` when the layer has one.

    The installed wheels are kept while the layer's requirements and prune list are unchanged
    (``out/.stamp``); the repo folders it copies (``shared/``) are always copied and compiled afresh.
    """
    machine = ARCHITECTURES[arch]
    target = out / "python"
    requirements = requirements_for(layer, arch)
    digest = hashlib.sha256(f"{requirements}{COMMON_PRUNE}{layer}".encode()).hexdigest()
    stamp = out / ".stamp"
    if not stamp.exists() or stamp.read_text() != digest:
        shutil.rmtree(out, ignore_errors=True)
        target.mkdir(parents=True)
        platforms = [arg for tag in PLATFORM_TAGS for arg in ("--platform", tag.format(m=machine))]
        pip_install(requirements, target, [*platforms, "--implementation", "cp"])
        for pattern in (*COMMON_PRUNE, *layer.prune):
            for path in list(target.glob(pattern)):
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        compile_tree(python312, target, "/opt/python", layer.keep_source)
        stamp.write_text(digest)
    for rel in layer.copy:
        shutil.rmtree(target / rel, ignore_errors=True)
        shutil.copytree(REPO / rel, target / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        compile_tree(python312, target / rel, f"/opt/python/{rel}", (".",))
    if layer.ca_dir is not None:
        shutil.rmtree(out / layer.ca_dir, ignore_errors=True)
        written = write_hashed_dir((target / "certifi" / "cacert.pem").read_bytes(), out / layer.ca_dir)
        print(f"  {len(written)} CA certificates hashed into {layer.ca_dir}/", file=sys.stderr)


def zip_dir(root: Path, dest: Path) -> None:
    """Zip ``root``'s contents (sorted, fixed timestamps: the same input gives the same bytes)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(str(path.relative_to(root)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=6)
    tmp.replace(dest)


def build_layers(arch: str, python312: Path) -> dict[str, Path]:
    zips: dict[str, Path] = {}
    for name, layer in LAYERS.items():
        print(f"layer {name} ({arch})", flush=True)
        tree = BUILD / "layers" / arch / name
        install_layer(layer, arch, python312, tree)
        zips[name] = BUILD / "layers" / arch / f"{name}.zip"
        zip_dir(tree, zips[name])
    return zips


def build_runtime(python312: Path) -> Path:
    """``build/runtime``: what Lambda's python3.12 runtime ships beside the layers (boto3 and its
    dependencies, at dev.txt's pins), for running the artefact here; never deployed."""
    from ship.layers import RUNTIME_PROVIDED, parse_lock

    target = BUILD / "runtime"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    blocks = parse_lock(REPO / "requirements" / "dev.txt")
    pip_install("\n".join(blocks[name] for name in RUNTIME_PROVIDED) + "\n", target, [])
    shutil.rmtree(target / "bin", ignore_errors=True)
    compile_tree(python312, target, "/var/lang/lib/python3.12/site-packages", (".",))
    return target


def stage_service(python312: Path, arch: str) -> None:
    """``build/service``: serverless.yml, compiled functions/ and the layer zips it references."""
    shutil.rmtree(SERVICE, ignore_errors=True)
    SERVICE.mkdir(parents=True)
    shutil.copy2(REPO / "serverless.yml", SERVICE / "serverless.yml")
    (SERVICE / "ship").mkdir()
    shutil.copy2(REPO / "ship" / "offline-layers.js", SERVICE / "ship" / "offline-layers.js")
    shutil.copytree(REPO / "functions", SERVICE / "functions", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compile_tree(python312, SERVICE / "functions", "/var/task/functions", (".",))
    layers = SERVICE / "build" / "layers" / arch
    layers.mkdir(parents=True)
    for name in LAYERS:
        os.link(BUILD / "layers" / arch / f"{name}.zip", layers / f"{name}.zip")


def npm_ci() -> Path:
    """``npm ci`` once per package-lock.json change; the path of the pinned serverless CLI."""
    lock = REPO / "package-lock.json"
    stamp = REPO / "node_modules" / ".package-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm not found: the Serverless Framework needs Node.js 18+ with npm")
        _run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], cwd=REPO)
        stamp.write_text(digest)
    return REPO / "node_modules" / "serverless" / "bin" / "serverless.js"


def serverless_package(cli: Path, stage: str = STAGE) -> None:
    """``serverless package --stage <stage>`` in ``build/service`` without AWS credentials."""
    shutil.rmtree(PACKAGE, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(SERVERLESS_ENV)
    node = shutil.which("node") or "node"
    _run([node, str(cli), "package", "--stage", stage, "--package", str(PACKAGE)], cwd=SERVICE, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ship.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), help="target architecture (serverless.yml's)")
    parser.add_argument("--layers-only", action="store_true", help="build the layers, skip serverless package")
    parser.add_argument("--stage", default=STAGE, help="the stage to package for (default: ci, which CI checks)")
    args = parser.parse_args()
    python312 = find_python312()
    print(f"compiling with {python312}", flush=True)
    arch = args.arch or target_arch()
    cli = None if args.layers_only else npm_ci()
    build_layers(arch, python312)
    if host_arch() != arch:
        build_layers(host_arch(), python312)  # what the smoke test and the benchmark run here
    build_runtime(python312)
    if cli is not None:
        stage_service(python312, arch)
        serverless_package(cli, args.stage)
        print(f"artefacts in {PACKAGE.relative_to(REPO)} (layers in build/layers/)")


if __name__ == "__main__":
    main()
