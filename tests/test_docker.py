"""docker-compose.yml is valid against the compose-spec schema; the Dockerfile installs monitor.

No Docker engine is needed: the compose file is checked against the compose-spec JSON schema that
check-jsonschema vendors, and the Dockerfile is checked as text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import check_jsonschema
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


def compose_schema() -> dict[str, Any]:
    package = Path(check_jsonschema.__file__).parent
    path = package / "builtin_schemas" / "vendor" / "compose-spec.json"
    if not path.is_file():  # layout changed in another check-jsonschema release
        found = sorted(package.rglob("compose-spec.json"))
        assert found, "check-jsonschema no longer ships the compose-spec schema"
        path = found[0]
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def test_compose_file_is_valid(compose: dict[str, Any]) -> None:
    schema = compose_schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_schema_rejects_a_broken_compose_file(compose: dict[str, Any]) -> None:
    """The validation is real: a misspelt key fails."""
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = {**compose, "services": {"monitor": {**compose["services"]["monitor"], "volume": []}}}
    assert list(validator.iter_errors(broken))


def test_compose_services(compose: dict[str, Any]) -> None:
    monitor = compose["services"]["monitor"]
    assert monitor["build"] == "."
    assert monitor["restart"] == "unless-stopped"
    assert set(monitor["volumes"]) == {
        "./data:/data",
        "./feeds.yaml:/config/feeds.yaml:ro",
        "./seeds:/config/seeds:ro",
        "./digests:/app/digests",
    }
    # credentials are passed through from the environment, never written in the file
    assert set(monitor["environment"]) == {"MONITOR_SMTP_USER", "MONITOR_SMTP_PASSWORD"}
    mailpit = compose["services"]["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit")
    ports = [str(p) for p in mailpit["ports"]]
    assert any(p.endswith("8025:8025") for p in ports)
    assert any(p.endswith("1025:1025") for p in ports)
    assert "mailpit" in COMPOSE.read_text(encoding="utf-8").split("services:")[0]  # documented


def test_dockerfile_installs_the_package_and_runs_the_service() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"pip install --upgrade pip && pip install \.(\s|$)", text)
    assert re.search(r"^COPY src\b", text, re.M)
    assert re.search(r"^COPY pyproject\.toml\b", text, re.M)
    cmd = re.findall(r"^CMD\s+(.+)$", text, re.M)
    assert cmd and json.loads(cmd[-1]) == ["monitor", "run"]
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^WORKDIR /app$", text, re.M)
    assert re.search(r"^VOLUME /data$", text, re.M)
    for env in (
        "MONITOR_DB=/data/monitor.db",
        "MONITOR_FEEDS=/config/feeds.yaml",
        "MONITOR_SEEDS=/config/seeds",
    ):
        assert env in text
    # everything the build copies exists (README.md is the package's readme in pyproject.toml)
    for source in re.findall(r"^COPY\s+(.+?)\s+\S+$", text, re.M):
        for name in source.split():
            assert (ROOT / name).exists(), name


def test_scale_profile_runs_postgresql_a_scheduler_and_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    scale = {name for name, service in services.items() if "scale" in service.get("profiles", [])}
    assert scale == {"postgres", "scheduler", "worker"}
    assert "profiles" not in services["monitor"]  # `docker compose up` is unchanged
    assert services["postgres"]["image"].startswith("postgres:")
    assert "ports" not in services["postgres"]  # reachable on the compose network only
    assert services["scheduler"]["build"]["args"] == {"EXTRAS": "postgres"}
    assert services["scheduler"]["command"] == ["monitor", "run"]
    assert services["worker"]["command"][:2] == ["monitor", "worker"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    for name in ("scheduler", "worker"):
        assert services[name]["environment"]["MONITOR_DB"].startswith("postgresql://monitor:")
        assert services[name]["environment"]["MONITOR_DB"].endswith("@postgres:5432/monitor")
    assert services["scheduler"]["depends_on"]["postgres"]["condition"] == "service_healthy"
