"""The Dockerfile, checked structurally (no docker needed): multi-stage, non-root, health-checked,
and its entrypoint + command a real `recsys` invocation."""

from __future__ import annotations

import fnmatch
import json
import re

from tests.deploy.helpers import (
    DOCKERFILE,
    ROOT,
    dockerfile_user,
    final_stage,
    instructions,
    parse_recsys,
)


def _one(keyword: str) -> str:
    found = [rest for k, rest in final_stage() if k == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {found}"
    return found[0]


def test_multi_stage_build() -> None:
    froms = [rest for keyword, rest in instructions() if keyword == "FROM"]
    assert len(froms) >= 2
    assert re.search(r"\bAS builder$", froms[0], re.IGNORECASE)
    copies = [rest for keyword, rest in final_stage() if keyword == "COPY"]
    assert any(c.startswith("--from=builder /opt/venv") for c in copies), copies


def test_runs_as_non_root_with_a_health_check() -> None:
    assert dockerfile_user() != 0
    assert "/healthz" in _one("HEALTHCHECK")
    assert _one("EXPOSE") == "8000"


def test_entrypoint_and_default_command_are_recsys_serve() -> None:
    entrypoint = json.loads(_one("ENTRYPOINT"))
    assert entrypoint == ["recsys"]
    command, params = parse_recsys([*entrypoint, *json.loads(_one("CMD"))])
    assert command == ("serve",)
    assert (params["host"], params["port"]) == ("0.0.0.0", 8000)


def test_feature_repo_and_migrations_are_installed_beside_the_packages() -> None:
    # recsys.config.PROJECT_ROOT (the directory holding `recsys/`) is site-packages once
    # installed: the build copies both there and asserts the installed code finds them.
    text = DOCKERFILE.read_text()
    assert "COPY feature_repo" in text and "COPY migrations" in text
    assert "Settings().feature_repo / 'feature_store.yaml'" in text
    assert "PROJECT_ROOT / 'migrations' / 'alembic.ini'" in text


def test_dockerignore_keeps_local_state_out_and_sources_in() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for required in [".venv", ".recsys", "reports", ".git", "data", "**/__pycache__"]:
        assert required in patterns, required
    copied = ["pyproject.toml", "README.md", "recsys", "api", "monitoring", "feature_repo",
              "migrations"]  # fmt: skip
    for path in copied:
        assert not any(fnmatch.fnmatch(path, p) for p in patterns), f"{path} is ignored"
