"""docker-compose.yml: valid against the compose-spec schema (bundled by check-jsonschema, so
offline) and consistent: real `recsys` commands, dependencies that can be met, settings that
exist, URLs that point at the compose services."""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from recsys.config import Settings
from tests.deploy.helpers import (
    ROOT,
    final_stage,
    load_yaml,
    parse_recsys,
    settings_env_names,
    shell_commands,
)

COMPOSE = load_yaml(ROOT / "docker-compose.yml")
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# Services running the project's image (the others are postgres and redis).
APP_SERVICES = {name: s for name, s in SERVICES.items() if "build" in s}


def _vendored_schema(name: str) -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / name).read_text())


def _default_cmd() -> list[str]:
    (cmd,) = [rest for keyword, rest in final_stage() if keyword == "CMD"]
    return json.loads(cmd)


def commands(service: dict[str, Any]) -> list[tuple[str, ...]]:
    """The recsys subcommands a service runs, in order, each parsed by the real command line."""
    command = service.get("command", _default_cmd())
    if isinstance(command, str):
        command = shlex.split(command)
    entrypoint = service.get("entrypoint", ["recsys"])
    if entrypoint[0] in {"sh", "/bin/sh"}:
        assert "c" in entrypoint[1] and len(command) == 1, "sh -c with one script"
        argvs = shell_commands(command[0])
    else:
        argvs = [[*entrypoint, *command]]
    return [parse_recsys(argv)[0] for argv in argvs]


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def _seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_file_matches_the_compose_spec() -> None:
    schema = _vendored_schema("compose-spec.json")
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert not errors, errors


def test_services_and_dependencies_are_consistent() -> None:
    assert set(SERVICES) >= {"postgres", "redis", "init", "api", "materialize", "weekly-report"}
    for name, service in SERVICES.items():
        for dependency, condition in _depends_on(service).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            target = SERVICES[dependency]
            if condition == "service_healthy":
                assert "healthcheck" in target and not target["healthcheck"].get("disable")
            if condition == "service_completed_successfully":  # a one-shot job `up` runs
                assert target.get("restart", "no") == "no" and "profiles" not in target
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith((".", "/")) or source in COMPOSE["volumes"], volume
    assert _depends_on(SERVICES["init"]) == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
    }
    assert _depends_on(SERVICES["api"])["init"] == "service_completed_successfully"


def test_every_command_is_a_real_recsys_command() -> None:
    assert commands(SERVICES["init"]) == [
        ("db", "upgrade"),
        ("data", "load"),
        ("features", "build"),
        ("features", "apply"),
        ("features", "materialize"),
        ("train",),
        ("train",),
    ]
    assert commands(SERVICES["api"]) == [("serve",)]
    assert commands(SERVICES["materialize"])[-1] == ("features", "materialize")
    assert commands(SERVICES["weekly-report"]) == [("monitor", "weekly")]
    for name, service in APP_SERVICES.items():
        commands(service)  # parses
        if name != "api":  # jobs: run once, not restarted, not judged by the HTTP healthcheck
            assert service.get("restart") == "no" and service["healthcheck"]["disable"], name


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_configuration_is_real_settings_pointing_at_the_services(name: str) -> None:
    env = APP_SERVICES[name]["environment"]
    assert set(env) <= settings_env_names(), set(env) - settings_env_names()
    database = urlsplit(env["RECSYS_DATABASE_URL"])
    assert (database.hostname, database.port) == ("postgres", 5432)
    postgres = SERVICES["postgres"]["environment"]
    assert database.username == postgres["POSTGRES_USER"]
    assert database.path.lstrip("/") == postgres["POSTGRES_DB"]
    redis = urlsplit(env["RECSYS_REDIS_URL"])
    assert (redis.hostname, redis.port) == ("redis", 6379)
    # The shared data volume is mounted where RECSYS_DATA_DIR points.
    assert f"recsys-data:{env['RECSYS_DATA_DIR']}" in APP_SERVICES[name]["volumes"]


def test_api_is_stopped_only_after_its_drain() -> None:
    api = SERVICES["api"]
    default = Settings.model_fields["shutdown_grace_seconds"].default
    grace = float(api["environment"].get("RECSYS_SHUTDOWN_GRACE_SECONDS", default))
    assert _seconds(api["stop_grace_period"]) > grace
    assert any(str(port).endswith(":8000") for port in api["ports"])
