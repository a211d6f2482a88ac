from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from latepay.actions.policies import load_policy
from latepay.actions.segments import SEGMENTS
from latepay.config import Settings
from latepay.errors import InputError


def test_default_policy_schedules_by_segment() -> None:
    policy = load_policy()
    days = {segment: [s.days for s in policy.steps(segment)] for segment in SEGMENTS}
    assert days == {
        "reliable": [5],
        "watch": [-3, 7],
        "at-risk": [-7, -1, 3, 10],
        "critical": [-10, -3, 1, 7, 14],
    }
    assert all(
        s.tone == "friendly" and s.escalation == 0
        for t in SEGMENTS
        for s in policy.steps(t)
        if s.days <= 0
    )
    assert [s.escalation for s in policy.steps("critical")] == [0, 0, 1, 2, 3]
    assert {t: policy.segment(t).max_contacts_per_week for t in SEGMENTS} == {
        "reliable": 1,
        "watch": 2,
        "at-risk": 2,
        "critical": 3,
    }
    assert {policy.segment(t).channel for t in SEGMENTS} == {"email"}
    assert policy.max_step_age_days == 3
    assert policy.quiet_weekdays == {"saturday", "sunday"}


def test_quiet_days_move_a_send_to_the_next_allowed_day() -> None:
    policy = load_policy().model_copy(update={"quiet_dates": frozenset({dt.date(2024, 6, 17)})})
    friday, saturday = dt.date(2024, 6, 14), dt.date(2024, 6, 15)
    assert policy.send_day(friday) == friday
    # Saturday, Sunday and the quiet Monday 17th: Tuesday.
    assert policy.is_quiet(saturday)
    assert policy.send_day(saturday) == dt.date(2024, 6, 18)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


VALID_SEGMENTS = """
  reliable: {steps: []}
  watch: {steps: [{days: -3, template: upcoming_due, tone: friendly}]}
  at-risk: {steps: []}
  critical: {max_contacts_per_week: 1, steps: []}
"""


def test_a_policy_file_overrides_the_default(tmp_path: Path) -> None:
    text = "max_step_age_days: 1\nquiet_dates: [2024-12-25]\nsegments:" + VALID_SEGMENTS
    path = _write(tmp_path, text)
    assert Settings(reminder_policy=path).reminder_policy == path
    policy = load_policy(path)
    assert policy.max_step_age_days == 1
    assert policy.quiet_weekdays == frozenset()
    assert policy.quiet_dates == {dt.date(2024, 12, 25)}
    assert [s.days for s in policy.steps("watch")] == [-3]
    assert policy.steps("reliable") == ()
    assert policy.segment("critical").max_contacts_per_week == 1
    assert policy.segment("watch").max_contacts_per_week == 2  # the default cap


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("segments:" + VALID_SEGMENTS + "  urgent: {steps: []}\n", "segments.urgent"),
        (
            "segments:\n  reliable: {steps: []}\n  watch: {steps: []}\n  at-risk: {steps: []}\n",
            "segments.critical",
        ),
        (
            "segments:" + VALID_SEGMENTS.replace("tone: friendly", "tone: firm"),
            "segments.watch.steps.0",
        ),
        (
            "segments:" + VALID_SEGMENTS.replace("tone: friendly", "tone: stern"),
            "segments.watch.steps.0.tone",
        ),
        (
            "segments:" + VALID_SEGMENTS.replace("days: -3", "dayz: -3"),
            "segments.watch.steps.0.dayz",
        ),
        (
            "segments:"
            + VALID_SEGMENTS.replace(
                "at-risk: {steps: []}",
                "at-risk: {steps: [{days: 5, template: overdue_notice, tone: firm, escalation: 1},"
                " {days: 2, template: overdue_notice, tone: firm, escalation: 1}]}",
            ),
            "segments.at-risk.steps",
        ),
        (
            "segments:"
            + VALID_SEGMENTS.replace(
                "at-risk: {steps: []}",
                "at-risk: {steps: [{days: 2, template: overdue_notice, tone: firm, escalation: 2},"
                " {days: 5, template: overdue_notice, tone: firm, escalation: 1}]}",
            ),
            "segments.at-risk.steps",
        ),
        (
            "segments:"
            + VALID_SEGMENTS.replace(
                "at-risk: {steps: []}",
                "at-risk: {steps: [{days: 2, template: overdue_notice, tone: firm}]}",
            ),
            "segments.at-risk.steps.0",
        ),
        (
            "segments:"
            + VALID_SEGMENTS.replace("max_contacts_per_week: 1", "max_contacts_per_week: 0"),
            "segments.critical.max_contacts_per_week",
        ),
        ("quiet_weekdays: [caturday]\nsegments:" + VALID_SEGMENTS, "quiet_weekdays"),
        ("max_step_age_days: -1\nsegments:" + VALID_SEGMENTS, "max_step_age_days"),
    ],
)
def test_a_bad_policy_is_an_error_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(InputError, match=f"policy .*: {re.escape(named)}"):
        load_policy(_write(tmp_path, text))


def test_a_policy_where_every_day_is_quiet_is_refused(tmp_path: Path) -> None:
    week = "[monday, tuesday, wednesday, thursday, friday, saturday, sunday]"
    with pytest.raises(InputError, match="nothing could ever be sent"):
        load_policy(_write(tmp_path, f"quiet_weekdays: {week}\nsegments:" + VALID_SEGMENTS))


def test_a_template_that_does_not_exist_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "segments:" + VALID_SEGMENTS.replace("upcoming_due", "dunning_letter"))
    with pytest.raises(InputError, match="template 'dunning_letter' has no file"):
        load_policy(path)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_policy(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="not valid YAML"):
        load_policy(_write(tmp_path, "segments: [unclosed"))
