"""Settings: the only place that reads ``LATEPAY_*`` environment variables.

Every setting can be given as an environment variable with the ``LATEPAY_`` prefix
(``LATEPAY_DATABASE_URL``, ``LATEPAY_MODEL_DIR``, ...) or overridden by a command-line
option. Code that needs a setting receives a :class:`Settings` instance; tests build
their own instead of touching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from latepay.features.labels import LabelSpec


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

    risk_tier_cutoffs: tuple[float, float, float] = Field(
        default=(0.25, 0.5, 0.75),
        description="P(late) from which an invoice is medium, high and critical risk.",
    )
    segment_cutoffs: tuple[float, float, float] = Field(
        default=(0.25, 0.5, 0.75),
        description="Customer risk score from which a customer is watch, at-risk and critical "
        "(the score blends the amount-weighted P(late) of its open invoices with its history "
        "late share; see latepay.actions.segments).",
    )
    cost_missed_late: float = Field(
        default=3.0, gt=0, description="Cost of a late invoice that was not flagged."
    )
    cost_needless_reminder: float = Field(
        default=1.0, gt=0, description="Cost of flagging an invoice that is then paid on time."
    )
    recency_half_life_days: float | None = Field(
        default=None,
        gt=0,
        description="Age in days at which a training invoice counts half as much in the gbm "
        "(training and retraining); unset, every invoice counts alike. A year or less lets a "
        "retrained model follow a regime change sooner.",
    )

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "accounts-receivable@localhost"
    reminder_policy: Path | None = Field(
        default=None,
        description="YAML reminder policy (schedule per risk segment); the packaged default if "
        "unset.",
    )
    holdout_share: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Share of invoices kept as a control group: no reminder before the due date.",
    )
    holdout_salt: str = Field(
        default="latepay-holdout",
        min_length=1,
        description="Mixed into the hash that puts an invoice in the control group; change it "
        "to draw a new group.",
    )
    discount_rate: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Early-payment discount offered, as a share of the invoice amount.",
    )
    cost_of_capital: float = Field(
        default=0.10, gt=0, description="Yearly cost of the money a late invoice keeps out."
    )
    response_days: int = Field(
        default=7,
        gt=0,
        description="A customer responds to a reminder or collector contact when it pays "
        "within this many days after it.",
    )

    dask_scheduler: str | None = None

    api_max_body_bytes: int = Field(
        default=1_048_576, gt=0, description="Largest request body the API accepts (413 above)."
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs dashboard session cookies; a random one per server start "
        "if unset (everyone signs in again after a restart).",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="How long a dashboard sign-in lasts."
    )
    session_cookie_secure: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only (browsers also allow it on "
        "localhost); turn off only behind a proxy that terminates TLS on plain HTTP hosts.",
    )
    model_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the API checks whether a new champion was promoted.",
    )

    retrain_margin: float = Field(
        default=0.005,
        ge=0,
        description="ROC AUC a challenger must gain over the champion to replace it.",
    )
    retrain_min_auc: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Quality floor: retraining never promotes a model below this ROC AUC.",
    )
    retrain_ece_tolerance: float = Field(
        default=0.02,
        ge=0,
        description="How much higher a challenger's calibration error (ECE) may be.",
    )
    retrain_window_days: int = Field(
        default=90,
        gt=0,
        description="A retrain compares challenger and champion on the invoices issued in "
        "this many days before the label cutoff whose outcome is known.",
    )
    drift_days: int = Field(
        default=90, gt=0, description="Days of newest invoices compared with the training window."
    )
    drift_watch_psi: float = Field(
        default=0.1, gt=0, description="Population stability index from which to watch a feature."
    )
    drift_alert_psi: float = Field(
        default=0.25, gt=0, description="Population stability index from which a feature drifted."
    )

    # Jobs of `latepay serve` (latepay.api.scheduler). Each runs first one interval after
    # start-up, then every interval; 0 turns it off.
    schedule_reminders_seconds: float = Field(
        default=0,
        ge=0,
        description="How often `latepay serve` sends the reminders due today (as `latepay "
        "remind`), e.g. 900. Off by default: real mail goes out only once the SMTP settings "
        "are set and this is switched on on purpose.",
    )
    schedule_segments_seconds: float = Field(
        default=3600,
        ge=0,
        description="How often `latepay serve` recomputes customer segments and records the "
        "changes (they also follow every `latepay score --open`).",
    )
    schedule_drift_seconds: float = Field(
        default=21600,
        ge=0,
        description="How often `latepay serve` computes the drift report (published in "
        "/metrics; an alert triggers a retrain early).",
    )
    schedule_retrain_seconds: float = Field(
        default=3600,
        ge=0,
        description="How often `latepay serve` checks whether a retrain is due (see "
        "retrain_interval_days and retrain_new_label_share); 0 turns scheduled retraining off.",
    )
    retrain_interval_days: float = Field(
        default=7,
        gt=0,
        description="Retrain when the newest model was trained this many days ago.",
    )
    retrain_new_label_share: float = Field(
        default=0.10,
        gt=0,
        description="Retrain early when the labels that became known since the newest model "
        "was trained reach this share of its training rows.",
    )

    @field_validator("risk_tier_cutoffs", "segment_cutoffs")
    @classmethod
    def _cutoffs_increase(
        cls, cutoffs: tuple[float, ...], info: ValidationInfo
    ) -> tuple[float, ...]:
        if list(cutoffs) != sorted(set(cutoffs)) or not all(0 < c < 1 for c in cutoffs):
            raise ValueError(
                f"{info.field_name} must be three increasing probabilities, got {cutoffs!r}"
            )
        return cutoffs

    def label_spec(self) -> LabelSpec:
        """How lateness is measured, from grace_days and bucket_edges."""
        return LabelSpec(grace_days=self.grace_days, bucket_edges=self.bucket_edges)

    @field_validator("bucket_edges")
    @classmethod
    def _edges_increase(cls, edges: tuple[int, ...]) -> tuple[int, ...]:
        if not edges or any(e <= 0 for e in edges) or list(edges) != sorted(set(edges)):
            raise ValueError(
                f"bucket_edges must be strictly increasing positive day counts, got {edges!r}"
            )
        return edges


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
