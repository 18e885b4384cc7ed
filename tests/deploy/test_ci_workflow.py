"""The GitHub Actions workflow runs what .ci/run runs: the README's test command with the same
environment, against service containers the URLs point at, then ruff."""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from tests.deploy.helpers import ROOT, load_yaml


def _load_workflow() -> dict[str, Any]:
    workflow = load_yaml(ROOT / ".github" / "workflows" / "ci.yml")
    if True in workflow:  # YAML 1.1 (PyYAML) reads a bare `on` key as the boolean True
        workflow["on"] = workflow.pop(True)
    return workflow


WORKFLOW = _load_workflow()
CI_RUN = (ROOT / ".ci" / "run").read_text()


def readme_test_command() -> str:
    """The line after the code fence that follows `<!-- test-command -->` (as .ci/run's awk)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    return lines[lines.index("<!-- test-command -->") + 2]


def ci_run_exports() -> dict[str, str]:
    exports: dict[str, str] = {}
    for line in CI_RUN.splitlines():
        if line.startswith("export "):
            for word in shlex.split(line)[1:]:
                name, _, value = word.partition("=")
                exports[name] = value
    return exports


def _job() -> dict[str, Any]:
    (job,) = WORKFLOW["jobs"].values()
    return job


def _runs() -> list[str]:
    return [step["run"].strip() for step in _job()["steps"] if "run" in step]


def test_workflow_matches_the_github_schema() -> None:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "github-workflows.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(WORKFLOW)]
    assert not errors, errors


def test_runs_on_push_and_pull_request() -> None:
    assert {"push", "pull_request"} <= set(WORKFLOW["on"])


def test_test_step_is_the_readme_command_with_the_ci_environment() -> None:
    command = readme_test_command()
    assert command.startswith("python3 -m venv .venv") and "pytest" in command
    steps = [s for s in _job()["steps"] if s.get("run", "").strip() == command]
    assert len(steps) == 1, f"one step must run exactly: {command}"
    env = {**WORKFLOW.get("env", {}), **_job().get("env", {}), **steps[0].get("env", {})}
    exports = ci_run_exports()
    assert {"RECSYS_TESTS_REQUIRE_CONFIGURED", "RECSYS_TESTS_FORBID_SKIPS"} <= set(exports)
    assert {name: str(env.get(name)) for name in exports} == exports
    python = next(s for s in _job()["steps"] if s.get("uses", "").startswith("actions/setup-py"))
    assert str(python["with"]["python-version"]) == "3.11"


def test_lint_steps_are_the_ci_run_ones_after_the_tests() -> None:
    lint = [line.strip() for line in CI_RUN.splitlines() if line.startswith(".venv/bin/ruff")]
    assert lint == [".venv/bin/ruff check .", ".venv/bin/ruff format --check ."]
    runs = _runs()
    tests = runs.index(readme_test_command())
    assert [runs.index(command) > tests for command in lint] == [True, True]


def _published(service: dict[str, Any]) -> set[int]:
    return {int(str(p).split(":")[0]) for p in service.get("ports", [])}


def test_service_containers_match_the_urls() -> None:
    exports, services = ci_run_exports(), _job()["services"]
    database = urlsplit(exports["RECSYS_DATABASE_URL"])
    redis = urlsplit(exports["RECSYS_REDIS_URL"])
    assert database.hostname == redis.hostname == "127.0.0.1"
    assert database.port in _published(services["postgres"])
    assert redis.port in _published(services["redis"])
    postgres = services["postgres"]["env"]
    assert postgres["POSTGRES_USER"] == database.username
    assert postgres["POSTGRES_DB"] == database.path.lstrip("/")
    assert postgres["POSTGRES_HOST_AUTH_METHOD"] == "trust", "the URL carries no password"
    for name in ("postgres", "redis"):  # steps start only once the service answers
        assert re.search(r"--health-cmd\b", services[name]["options"]), name
