"""compose.yml cannot run here (no Docker engine); check that what it names exists."""

import re
from pathlib import Path

import yaml

from opsapp.cli import build_parser
from opsapp.settings import Settings
from opsapp.worker.config import WorkerSettings

ROOT = Path(__file__).resolve().parents[3]


def _compose():
    return yaml.safe_load((ROOT / "compose.yml").read_text())


def test_compose_declares_the_scaled_topology_with_health_checks():
    services = _compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "scheduler"} <= set(services)
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    assert services["migrate"]["command"] == ["opsapp", "db", "upgrade"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (ROOT / "Dockerfile").exists()


def test_every_opsapp_command_in_compose_exists_in_the_cli():
    parser = build_parser()
    for service in _compose()["services"].values():
        command = service.get("command")
        if command and command[0] == "opsapp":
            parser.parse_args(command[1:])  # SystemExit if the command does not exist


def test_every_opsapp_environment_variable_in_compose_is_a_setting():
    known = {
        field.alias for model in (Settings, WorkerSettings) for field in model.model_fields.values()
    }
    known |= {"REFLEX_REDIS_URL"}
    env = _compose()["x-app"]["environment"]
    assert set(env) <= known, set(env) - known
    example = (ROOT / ".env.example").read_text()
    for alias in known:
        assert re.search(rf"^# {alias}=", example, re.M), f"{alias} missing from .env.example"
