"""The sidecar's settings, read from ``PVA_*`` environment variables (pydantic-settings).

Small on purpose: the store folder and the audit database. The HTTP service
adds host, port and policy when it arrives.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/pva.db"  # relative to the current folder; made on demand


class Settings(BaseSettings):
    """Where the store is and which audit database records what happens to it."""

    model_config = SettingsConfigDict(env_prefix="PVA_", extra="ignore", frozen=True)

    store: str = "var/projects"
    database_url: str = DEFAULT_DATABASE_URL
