"""deploy/k8s: every manifest valid against the Kubernetes JSON schemas (offline, bundled by
kubernetes-validate), and consistent with the app: probes, drain, commands and settings."""

from __future__ import annotations

import os
from typing import Any

import kubernetes_validate
import pytest

from recsys.config import Settings
from tests.deploy.helpers import (
    K8S_DIR,
    dockerfile_user,
    load_documents,
    load_yaml,
    parse_recsys,
    settings_env_names,
)

# The oldest Kubernetes the manifests target (CronJob timeZone is GA from 1.27); strict mode
# rejects unknown fields, which plain kubectl would silently drop.
K8S_VERSION = "1.30"
MANIFESTS = sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def _all() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in load_documents(path)]


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in _all() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def _workloads() -> list[dict[str, Any]]:
    return [d for d in _all() if d["kind"] in {"Deployment", "Job", "CronJob"}]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _pod_spec(doc)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _commands(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    """The recsys subcommands a workload runs, in order (init containers first)."""
    return [parse_recsys(_argv(c))[0] for c in _containers(doc)]


def _argv(container: dict[str, Any]) -> list[str]:
    # No `command` means the image's ENTRYPOINT, which test_dockerfile pins to `recsys`.
    return [*container.get("command", ["recsys"]), *container.get("args", [])]


def _config() -> dict[str, str]:
    return _one("ConfigMap", "recsys-config")["data"]


def _grace_seconds() -> float:
    default = Settings.model_fields["shutdown_grace_seconds"].default
    return float(_config().get("RECSYS_SHUTDOWN_GRACE_SECONDS", default))


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S_DIR / "kustomization.yaml")
    # Except the placeholder Secret: `apply -k` must never overwrite the real one.
    expected = sorted(p.name for p in MANIFESTS if p.name != "secret.yaml")
    assert sorted(kustomization["resources"]) == expected
    images = {c["image"].split(":")[0] for d in _workloads() for c in _containers(d)}
    assert images == {i["name"] for i in kustomization["images"]}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path) -> None:  # type: ignore[no-untyped-def]
    docs = load_documents(path)
    assert docs, f"{path.name} holds no document"
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{path.name}: {exc.message} at {list(exc.path)}") from exc


def test_api_probes_and_drain() -> None:
    deployment = _one("Deployment", "recsys-api")
    spec = _pod_spec(deployment)
    (api,) = spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    for probe, path in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"),
                        ("startupProbe", "/healthz")]:  # fmt: skip
        assert api[probe]["httpGet"]["path"] == path, probe
        assert ports[api[probe]["httpGet"]["port"]] == 8000, probe
    grace = _grace_seconds()
    # The kubelet must not kill the pod while it drains, and readiness must fail (so the Service
    # stops routing) well within the drain.
    assert spec["terminationGracePeriodSeconds"] > grace
    readiness = api["readinessProbe"]
    assert readiness["periodSeconds"] * readiness.get("failureThreshold", 3) < grace


def test_api_runs_one_worker_per_pod() -> None:
    (api,) = _pod_spec(_one("Deployment", "recsys-api"))["containers"]
    command, params = parse_recsys(_argv(api))
    assert command == ("serve",)
    assert params["workers"] == 1, "metrics are per process: scale pods, not workers"
    assert params["host"] == "0.0.0.0" and params["port"] == 8000


def test_api_is_reached_through_the_service_and_scaled_by_the_hpa() -> None:
    deployment = _one("Deployment", "recsys-api")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = _one("Service", "recsys-api")
    assert service["spec"]["selector"].items() <= labels.items()
    (api,) = _pod_spec(deployment)["containers"]
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {p["name"] for p in api["ports"]}
    hpa = _one("HorizontalPodAutoscaler", "recsys-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "recsys-api")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert "cpu" in api["resources"]["requests"], "CPU utilisation is relative to the request"


@pytest.mark.parametrize("doc", _workloads(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_workload_runs_real_commands_as_non_root(doc) -> None:  # type: ignore[no-untyped-def]
    spec = _pod_spec(doc)
    security = spec["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == dockerfile_user() != 0
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claims = {d["metadata"]["name"] for d in _all() if d["kind"] == "PersistentVolumeClaim"}
    for volume in volumes.values():
        if "persistentVolumeClaim" in volume:
            assert volume["persistentVolumeClaim"]["claimName"] in claims
    for container in _containers(doc):
        parse_recsys(_argv(container))  # a real subcommand with real options
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
        assert refs == {"recsys-config", "recsys-secrets"}
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert set(mounts.values()) <= set(volumes)
        assert "/tmp" in mounts, "a writable /tmp under the read-only root filesystem"
        data_dir = _config()["RECSYS_DATA_DIR"]
        if data_dir in mounts:  # model artifacts and reports: the shared claim, not a pod's disk
            assert "persistentVolumeClaim" in volumes[mounts[data_dir]]


def test_pods_that_read_or_write_models_and_reports_share_the_data_volume() -> None:
    data_dir = _config()["RECSYS_DATA_DIR"]
    for kind, name in [("Deployment", "recsys-api"), ("CronJob", "recsys-train"),
                       ("CronJob", "recsys-weekly-report")]:  # fmt: skip
        doc = _one(kind, name)
        (main,) = _pod_spec(doc)["containers"]
        assert data_dir in {m["mountPath"] for m in main["volumeMounts"]}, name


def test_jobs_run_the_set_up_and_schedules() -> None:
    assert _commands(_one("Job", "recsys-init")) == [("db", "upgrade"), ("features", "apply")]
    cronjobs = {d["metadata"]["name"]: d for d in _all() if d["kind"] == "CronJob"}
    for cronjob in cronjobs.values():
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        assert _pod_spec(cronjob)["restartPolicy"] == "Never"
    materialize = cronjobs["recsys-materialize"]
    assert _commands(materialize)[-1] == ("features", "materialize")
    minute, *rest = materialize["spec"]["schedule"].split()
    assert minute.isdigit() and rest == ["*", "*", "*", "*"], "hourly"
    weekly = cronjobs["recsys-weekly-report"]
    assert _commands(weekly) == [("monitor", "weekly")]
    assert weekly["spec"]["schedule"].split()[4] == "1", "Mondays"
    assert _commands(cronjobs["recsys-train"])[-1] == ("train",)


def test_config_and_secret_hold_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = _one("Secret", "recsys-secrets")["stringData"]
    assert set(secret) == {"RECSYS_DATABASE_URL", "RECSYS_REDIS_URL", "RECSYS_API_KEYS"}
    assert all("CHANGE-ME" in value for value in secret.values()), "placeholders only"
    config = _config()
    assert set(config) <= settings_env_names(), set(config) - settings_env_names()
    assert not set(config) & set(secret), "a setting is in one place only"
    # The values parse too: Settings built from exactly these variables.
    for name in list(os.environ):
        if name.startswith("RECSYS_"):
            monkeypatch.delenv(name)
    for name, value in {**config, **secret}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.shutdown_grace_seconds == _grace_seconds()
    assert not settings.uses_embedded_servers
