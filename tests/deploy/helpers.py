"""What the deployment files are checked against: the real `recsys` command line and Settings."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer
import typer.main
import yaml

from recsys.cli import app
from recsys.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "Dockerfile"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def settings_env_names() -> set[str]:
    """Every setting's environment variable, as pydantic-settings reads it (prefix RECSYS_)."""
    return {f"RECSYS_{name.upper()}" for name in Settings.model_fields}


def parse_recsys(argv: list[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Parse ``argv`` with the real `recsys` command tree, as running it would, without running it.

    Returns the subcommand path, e.g. ("features", "materialize"), and the parsed parameters.
    An unknown command or option, a missing required option or a bad value fails the test."""
    assert argv and argv[0] == "recsys", f"not a recsys command: {argv}"
    # Duck-typed: typer >= 0.2x vendors its own click, older versions use click itself.
    command: Any = typer.main.get_command(app)
    args, path = list(argv[1:]), []
    while hasattr(command, "list_commands"):  # a command group
        ctx = typer.Context(command, info_name="recsys")
        assert args, f"{shlex.join(argv)}: `recsys {' '.join(path)}` needs a subcommand"
        name = args.pop(0)
        sub = command.get_command(ctx, name)
        known = command.list_commands(ctx)
        assert sub is not None, f"{shlex.join(argv)}: no command {name!r} (known: {known})"
        command, path = sub, [*path, name]
    try:
        ctx = command.make_context(" ".join(["recsys", *path]), args)
    except Exception as exc:
        if not hasattr(exc, "format_message"):  # not a usage error
            raise
        raise AssertionError(f"{shlex.join(argv)}: {exc.format_message()}") from exc
    return tuple(path), ctx.params


def shell_commands(script: str) -> list[list[str]]:
    """The commands of an `sh -c` script made of commands joined by && or newlines."""
    assert not re.search(r"\|\||[|;`$<>]", script), f"only && chains are checked: {script!r}"
    return [shlex.split(part) for part in re.split(r"&&|\n", script) if part.strip()]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def dockerfile_user() -> int:
    """The runtime UID: numeric, so Kubernetes' runAsNonRoot can verify it."""
    users = [rest for keyword, rest in final_stage() if keyword == "USER"]
    assert users, "the final stage sets no USER (it would run as root)"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]}: use a numeric UID"
    return int(uid)
