"""Reminder policies: per risk tier, which reminders go out, how many days from the due date.

A policy is a YAML file (the packaged ``default_policy.yaml`` unless ``LATEPAY_REMINDER_POLICY``
names another)::

    max_step_age_days: 3
    tiers:
      medium:
        - {days: -3, template: upcoming_due, tone: friendly}   # 3 days before the due date
        - {days: 7, template: overdue_notice, tone: firm}      # 7 days after it

Days count as Odoo follow-ups do: negative before the due date, positive after. Every tier of
:data:`RISK_TIERS` needs a schedule (an empty list sends nothing). A step before the due date
must be friendly, since a customer who is not late yet must not read anything about risk.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from latepay.errors import InputError

RISK_TIERS = ("low", "medium", "high", "critical")
DEFAULT_POLICY = "default_policy.yaml"
TEMPLATE_SUFFIXES = (".subject.j2", ".txt.j2", ".html.j2")

Tone = Literal["friendly", "firm"]


class ReminderStep(BaseModel):
    """One reminder of a schedule, ``days`` from the due date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(ge=-90, le=365)
    template: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    tone: Tone

    @model_validator(mode="after")
    def _friendly_before_due(self) -> ReminderStep:
        if self.days <= 0 and self.tone != "friendly":
            raise ValueError(
                f"a step {self.days} days from the due date (not overdue yet) must have tone "
                f"'friendly', got {self.tone!r}"
            )
        return self


class TierSchedules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    low: tuple[ReminderStep, ...]
    medium: tuple[ReminderStep, ...]
    high: tuple[ReminderStep, ...]
    critical: tuple[ReminderStep, ...]

    @field_validator("low", "medium", "high", "critical")
    @classmethod
    def _days_increase(cls, steps: tuple[ReminderStep, ...]) -> tuple[ReminderStep, ...]:
        days = [step.days for step in steps]
        if days != sorted(set(days)):
            raise ValueError(f"steps must have distinct days in increasing order, got {days}")
        return steps


class ReminderPolicy(BaseModel):
    """A validated reminder policy; build it with :func:`load_policy`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_step_age_days: int = Field(default=3, ge=0, le=60)
    tiers: TierSchedules

    def steps(self, risk_tier: str) -> tuple[ReminderStep, ...]:
        """The schedule of ``risk_tier`` (low, medium, high or critical)."""
        if risk_tier not in RISK_TIERS:
            raise ValueError(f"unknown risk tier {risk_tier!r}; expected one of {RISK_TIERS}")
        return getattr(self.tiers, risk_tier)

    def templates(self) -> set[str]:
        return {step.template for tier in RISK_TIERS for step in self.steps(tier)}


def load_policy(path: Path | None = None) -> ReminderPolicy:
    """Read and validate a reminder policy; the packaged default when ``path`` is None.

    Raises
    ------
    InputError
        The file is missing, not YAML, or breaks a rule; the message names the key, e.g.
        ``tiers.high.2.tone``.
    """
    if path is None:
        source = resources.files("latepay.actions").joinpath(DEFAULT_POLICY)
        name = f"the packaged {DEFAULT_POLICY}"
    else:
        source, name = Path(path), str(path)
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"reminder policy {name} not found; check LATEPAY_REMINDER_POLICY"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0]
        raise InputError(f"reminder policy {name} is not valid YAML: {reason}") from None
    try:
        policy = ReminderPolicy.model_validate(document)
    except ValidationError as error:
        # An unknown key explains a missing one (a typo), so it is reported first.
        first = min(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise InputError(
            f"reminder policy {name}: {key}: {first['msg']} (got {first.get('input')!r})"
        ) from None
    _check_templates_exist(policy, name)
    return policy


def _check_templates_exist(policy: ReminderPolicy, name: str) -> None:
    folder = resources.files("latepay.actions").joinpath("templates")
    for template in sorted(policy.templates()):
        missing = [s for s in TEMPLATE_SUFFIXES if not folder.joinpath(template + s).is_file()]
        if missing:
            raise InputError(
                f"reminder policy {name}: template {template!r} has no file "
                f"{template}{missing[0]} in latepay/actions/templates/"
            )
