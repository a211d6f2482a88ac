"""Reminder policies: per customer risk segment, which reminders go out, when and how often.

A policy is a YAML file (the packaged ``default_policy.yaml`` unless ``LATEPAY_REMINDER_POLICY``
names another)::

    max_step_age_days: 3
    quiet_weekdays: [saturday, sunday]      # nothing is sent on these days ...
    quiet_dates: [2024-12-25]               # ... nor on these; the send moves to the next day
    segments:
      watch:
        channel: email
        max_contacts_per_week: 2            # messages per customer in any 7 days
        steps:
          - {days: -3, template: upcoming_due, tone: friendly}                # 3 days before
          - {days: 7, template: overdue_notice, tone: firm, escalation: 1}    # 7 days after

Days count as Odoo follow-ups do: negative before the due date, positive after. Every segment of
:data:`~latepay.actions.segments.SEGMENTS` needs a schedule (an empty list sends nothing). A step
before the due date must be friendly and at escalation level 0, since a customer who is not late
yet must not read anything about risk. Steps after the due date climb escalation levels (1, 2,
...; never down), which decide which step leads a consolidated message and what the collector
sees.

A step whose day is quiet is not dropped: it moves to the next day that is not quiet (see
:meth:`ReminderPolicy.send_day`). Excluding a customer from outreach is the customer's
``excluded_from_outreach`` column (imported with the customer file), not part of the policy.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from latepay.actions.segments import SEGMENTS
from latepay.errors import InputError

DEFAULT_POLICY = "default_policy.yaml"
TEMPLATE_SUFFIXES = (".subject.j2", ".txt.j2", ".html.j2")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Every day of a year quiet would make "the next allowed day" never come.
MAX_QUIET_SHIFT_DAYS = 366

Tone = Literal["friendly", "firm"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class ReminderStep(BaseModel):
    """One reminder of a schedule, ``days`` from the due date, at an ``escalation`` level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(ge=-90, le=365)
    template: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    tone: Tone
    escalation: int = Field(default=0, ge=0, le=9)

    @model_validator(mode="after")
    def _friendly_before_due(self) -> ReminderStep:
        if self.days <= 0 and self.tone != "friendly":
            raise ValueError(
                f"a step {self.days} days from the due date (not overdue yet) must have tone "
                f"'friendly', got {self.tone!r}"
            )
        if self.days <= 0 and self.escalation != 0:
            raise ValueError(
                f"a step {self.days} days from the due date (not overdue yet) must have "
                f"escalation 0, got {self.escalation}"
            )
        if self.days > 0 and self.escalation == 0:
            raise ValueError(
                f"a step {self.days} days after the due date needs an escalation level of 1 or more"
            )
        return self


class SegmentPolicy(BaseModel):
    """What one risk segment gets: the schedule, its channel and a weekly contact cap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The only channel the sender has; the field makes the policy say so, and is recorded.
    channel: Literal["email"] = "email"
    max_contacts_per_week: int = Field(default=2, ge=1, le=7)
    steps: tuple[ReminderStep, ...]

    @field_validator("steps")
    @classmethod
    def _days_and_levels_increase(cls, steps: tuple[ReminderStep, ...]) -> tuple[ReminderStep, ...]:
        days = [step.days for step in steps]
        if days != sorted(set(days)):
            raise ValueError(f"steps must have distinct days in increasing order, got {days}")
        levels = [step.escalation for step in steps]
        if levels != sorted(levels):
            raise ValueError(f"escalation levels must never go down, got {levels}")
        return steps


class SegmentPolicies(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    reliable: SegmentPolicy
    watch: SegmentPolicy
    at_risk: SegmentPolicy = Field(alias="at-risk")
    critical: SegmentPolicy


class ReminderPolicy(BaseModel):
    """A validated reminder policy; build it with :func:`load_policy`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_step_age_days: int = Field(default=3, ge=0, le=60)
    quiet_weekdays: frozenset[Weekday] = frozenset()
    quiet_dates: frozenset[dt.date] = frozenset()
    segments: SegmentPolicies

    @model_validator(mode="after")
    def _some_day_is_not_quiet(self) -> ReminderPolicy:
        if len(self.quiet_weekdays) == len(WEEKDAYS):
            raise ValueError("quiet_weekdays names every weekday: nothing could ever be sent")
        return self

    def segment(self, segment: str) -> SegmentPolicy:
        """The policy of ``segment`` (reliable, watch, at-risk or critical)."""
        if segment not in SEGMENTS:
            raise ValueError(f"unknown segment {segment!r}; expected one of {SEGMENTS}")
        return getattr(self.segments, segment.replace("-", "_"))

    def steps(self, segment: str) -> tuple[ReminderStep, ...]:
        """The reminder schedule of ``segment``."""
        return self.segment(segment).steps

    def templates(self) -> set[str]:
        return {step.template for segment in SEGMENTS for step in self.steps(segment)}

    def is_quiet(self, day: dt.date) -> bool:
        """Whether nothing may be sent on ``day`` (a quiet weekday or a quiet date)."""
        return WEEKDAYS[day.weekday()] in self.quiet_weekdays or day in self.quiet_dates

    def send_day(self, day: dt.date) -> dt.date:
        """``day``, or the first day after it that is not quiet."""
        for shift in range(MAX_QUIET_SHIFT_DAYS):
            candidate = day + dt.timedelta(days=shift)
            if not self.is_quiet(candidate):
                return candidate
        raise InputError(f"no day that is not quiet within a year of {day}; check quiet_dates")


def load_policy(path: Path | None = None) -> ReminderPolicy:
    """Read and validate a reminder policy; the packaged default when ``path`` is None.

    Raises
    ------
    InputError
        The file is missing, not YAML, or breaks a rule; the message names the key, e.g.
        ``segments.watch.steps.2.tone``.
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
