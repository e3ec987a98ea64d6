"""Size gates over the built artefact: what Lambda unzips for each function, with its layers."""

from __future__ import annotations

import pytest

from ship import artefact
from ship.build import BUILD, target_arch

pytestmark = pytest.mark.artefact


def _report(function: artefact.Function, total: int, limit: int) -> str:
    paths = [function.zip, *function.layer_zips(target_arch())]
    lines = [f"  {name}: {size / 1e6:.2f} MB" for name, size in artefact.contributors(paths)]
    return f"{function.name} is {total / 1e6:.2f} MB unzipped (limit {limit / 1e6:.2f} MB); largest:\n" + "\n".join(
        lines
    )


def _unzipped(function: artefact.Function) -> int:
    return sum(artefact.unzipped_size(p) for p in (function.zip, *function.layer_zips(target_arch())))


def test_every_function_with_its_layers_fits_lambda(built_artefact: list[artefact.Function]) -> None:
    # given every packaged function and the layers it lists
    for function in built_artefact:
        # when its zip and layers are unzipped, then they stay under the 250 MB gate
        total = _unzipped(function)
        assert total <= artefact.MAX_UNZIPPED, _report(function, total, artefact.MAX_UNZIPPED)


def test_every_function_that_does_not_call_the_model_is_at_most_30_mib(
    built_artefact: list[artefact.Function],
) -> None:
    # given the functions without the LLM layer (the only ones allowed to call the model have it)
    slim = [f for f in built_artefact if "llm" not in f.layers]
    assert {f.name for f in built_artefact} - {f.name for f in slim} == {"turnWorker", "knowledgeIngestion"}
    for function in slim:
        # then each, unzipped with its layers, is at most 30 MiB
        total = _unzipped(function)
        assert total <= artefact.MAX_UNZIPPED_NO_MODEL, _report(function, total, artefact.MAX_UNZIPPED_NO_MODEL)


def test_layers_ship_python_312_bytecode_and_no_runtime_sdk(built_artefact: list[artefact.Function]) -> None:
    # given the HTTP layer's file list
    import zipfile

    with zipfile.ZipFile(BUILD / "layers" / target_arch() / "http.zip") as zf:
        names = zf.namelist()
    # then there is no source-only module: each .py has its 3.12 pyc, every other module is a pyc
    sources = {n for n in names if n.endswith(".py")}
    for source in sources:
        folder, _, file = source.rpartition("/")
        assert f"{folder}/__pycache__/{file[:-3]}.cpython-312.pyc" in names, source
    assert sum(n.endswith(".pyc") for n in names) > 1000
    # and neither boto3/botocore (the runtime's), litellm nor the supabase SDK is in it
    tops = {n.split("/")[1] for n in names if n.count("/") > 1}
    assert not tops & {"boto3", "botocore", "litellm", "supabase", "cryptography"}
