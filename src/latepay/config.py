"""Settings: the only place that reads ``LATEPAY_*`` environment variables.

Every setting can be given as an environment variable with the ``LATEPAY_`` prefix
(``LATEPAY_DATABASE_URL``, ``LATEPAY_MODEL_DIR``, ...) or overridden by a command-line
option. Code that needs a setting receives a :class:`Settings` instance; tests build
their own instead of touching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """latepay's configuration, read once from the environment."""

    model_config = SettingsConfigDict(env_prefix="LATEPAY_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///latepay.db",
        description="SQLAlchemy URL; a SQLite file in the working folder by default.",
    )
    model_dir: Path = Field(default=Path("models"), description="Folder of the model registry.")

    grace_days: int = Field(
        default=0, ge=0, description="Days after the due date that still count as on time."
    )
    bucket_edges: tuple[int, ...] = Field(
        default=(30,),
        description="Upper edges (days late) of the lateness buckets after on_time; "
        "the default gives on_time, late_1_30, late_31_plus.",
    )

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "accounts-receivable@localhost"

    dask_scheduler: str | None = None

    @field_validator("bucket_edges")
    @classmethod
    def _edges_increase(cls, edges: tuple[int, ...]) -> tuple[int, ...]:
        if not edges or any(e <= 0 for e in edges) or list(edges) != sorted(set(edges)):
            raise ValueError(
                f"bucket_edges must be strictly increasing positive day counts, got {edges!r}"
            )
        return edges

    def bucket_names(self) -> list[str]:
        """Names of the lateness buckets, e.g. ``['on_time', 'late_1_30', 'late_31_plus']``."""
        names = ["on_time"]
        lower = 1
        for edge in self.bucket_edges:
            names.append(f"late_{lower}_{edge}")
            lower = edge + 1
        names.append(f"late_{lower}_plus")
        return names


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
