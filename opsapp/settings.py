"""Runtime settings, read from the environment (and an optional .env file).

Every knob has a default that gives the embedded mode: SQLite file, in-process broker, demo Graph.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The built-in key: public (it is in this file), so it only suits the embedded demo. Outside demo
# mode the processes refuse to start with it (opsapp.settings_guard), and in any mode it never
# encrypts a real (non-demo) client secret (opsapp.security).
DEMO_SECRET_KEY = "opsapp-embedded-demo-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'data' / 'opsapp.db'}", alias="DATABASE_URL"
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", alias="REDIS_URL")
    broker: Literal["memory", "redis"] = Field(default="memory", alias="OPSAPP_BROKER")
    # Encrypts tenant client secrets at rest (the key that writes). The default only suits the
    # embedded demo; outside it a strong key is required (opsapp.settings_guard).
    secret_key: SecretStr = Field(default=SecretStr(DEMO_SECRET_KEY), alias="OPSAPP_SECRET_KEY")
    # Previous keys, comma-separated, still accepted for reading while `opsapp secrets rotate`
    # re-encrypts everything with OPSAPP_SECRET_KEY; remove them once it reports no unreadable.
    secret_keys_old: SecretStr = Field(default=SecretStr(""), alias="OPSAPP_SECRET_KEYS_OLD")
    base_url: str = Field(default="", alias="OPSAPP_BASE_URL")
    # demo: tenants with provider "demo" talk to the built-in demo Graph; live: demo tenants are
    # refused (production talks only to Microsoft Graph).
    graph_mode: Literal["demo", "live"] = Field(default="demo", alias="OPSAPP_GRAPH_MODE")
    # Empty: the demo Graph runs in-process (ASGI transport). A URL: a demo server over HTTP.
    demo_graph_url: str = Field(default="", alias="OPSAPP_DEMO_GRAPH_URL")
    # `opsapp demo graph` binds only to loopback unless this is set (its credentials are public).
    demo_graph_allow_remote: bool = Field(default=False, alias="OPSAPP_DEMO_GRAPH_ALLOW_REMOTE")
    graph_base_url: str = Field(
        default="https://graph.microsoft.com", alias="OPSAPP_GRAPH_BASE_URL"
    )
    login_base_url: str = Field(
        default="https://login.microsoftonline.com", alias="OPSAPP_LOGIN_BASE_URL"
    )
    # Graph's request budget per tenant and app (Intune: about 1,000 requests per 20 s; a
    # $batch costs one unit per sub-request). Every client of a tenant paces to it: in scaled
    # mode (OPSAPP_BROKER=redis) all workers share one budget through Redis, embedded mode
    # paces in-process. Demo tenants have a roomier budget of their own by default.
    graph_budget_requests: int = Field(default=1000, ge=1, alias="OPSAPP_GRAPH_BUDGET_REQUESTS")
    demo_graph_budget_requests: int = Field(
        default=20_000, ge=1, alias="OPSAPP_DEMO_GRAPH_BUDGET_REQUESTS"
    )
    graph_budget_window_seconds: float = Field(
        default=20.0, gt=0, alias="OPSAPP_GRAPH_BUDGET_WINDOW_SECONDS"
    )
    run_retention_days: int = Field(default=90, ge=1, alias="OPSAPP_RUN_RETENTION_DAYS")
    prune_batch_size: int = Field(default=5000, ge=1, alias="OPSAPP_PRUNE_BATCH_SIZE")
    heartbeat_seconds: float = Field(default=10.0, gt=0, alias="OPSAPP_HEARTBEAT_SECONDS")
    # A running run whose heartbeat is older than this is treated as lost (worker died).
    lost_after_seconds: float = Field(default=90.0, gt=0, alias="OPSAPP_LOST_AFTER_SECONDS")
    # A queued run nobody picked up within this bound is treated as lost as well.
    queued_timeout_seconds: float = Field(
        default=3600.0, gt=0, alias="OPSAPP_QUEUED_TIMEOUT_SECONDS"
    )
    # The outbox: a queued run nobody claimed this long after its message was sent is sent again
    # by a worker's relay (then after twice as long, … up to redeliver_max_seconds). A duplicate
    # message is harmless: the claim runs a run once.
    redeliver_after_seconds: float = Field(
        default=15.0, gt=0, alias="OPSAPP_REDELIVER_AFTER_SECONDS"
    )
    redeliver_max_seconds: float = Field(default=120.0, gt=0, alias="OPSAPP_REDELIVER_MAX_SECONDS")
    dispatch_timeout_seconds: float = Field(
        default=2.0, gt=0, alias="OPSAPP_DISPATCH_TIMEOUT_SECONDS"
    )
    session_hours: int = Field(default=12, ge=1, alias="OPSAPP_SESSION_HOURS")

    def secret_keys(self) -> list[str]:
        """Every key that may read a stored secret: the current one first (it writes), then
        OPSAPP_SECRET_KEYS_OLD in order; blanks and repeats dropped."""
        keys = [self.secret_key.get_secret_value()]
        for old in self.secret_keys_old.get_secret_value().split(","):
            old = old.strip()
            if old and old not in keys:
                keys.append(old)
        return keys


@lru_cache
def get_settings() -> Settings:
    return Settings()
