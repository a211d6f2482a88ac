from __future__ import annotations

import re
from pathlib import Path

import pytest

from latepay.actions.policies import load_policy
from latepay.config import Settings
from latepay.errors import InputError


def test_default_policy_schedules_by_tier() -> None:
    policy = load_policy()
    days = {tier: [s.days for s in policy.steps(tier)] for tier in ("low", "medium", "high")}
    assert days == {"low": [5], "medium": [-3, 7], "high": [-7, -1, 3, 10]}
    assert [s.days for s in policy.steps("critical")] == [-10, -3, 1, 7, 14]
    assert all(
        s.tone == "friendly" for t in ("medium", "high") for s in policy.steps(t) if s.days < 0
    )
    assert policy.max_step_age_days == 3


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


VALID_TIERS = """
  low: []
  medium: [{days: -3, template: upcoming_due, tone: friendly}]
  high: []
  critical: []
"""


def test_a_policy_file_overrides_the_default(tmp_path: Path) -> None:
    path = _write(tmp_path, "max_step_age_days: 1\ntiers:" + VALID_TIERS)
    assert Settings(reminder_policy=path).reminder_policy == path
    policy = load_policy(path)
    assert policy.max_step_age_days == 1
    assert [s.days for s in policy.steps("medium")] == [-3]
    assert policy.steps("low") == ()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("tiers:" + VALID_TIERS + "  urgent: []\n", "tiers.urgent"),
        ("tiers:\n  low: []\n  medium: []\n  high: []\n", "tiers.critical"),
        (
            "tiers:" + VALID_TIERS.replace("tone: friendly", "tone: firm"),
            "tiers.medium.0",
        ),
        ("tiers:" + VALID_TIERS.replace("tone: friendly", "tone: stern"), "tiers.medium.0.tone"),
        ("tiers:" + VALID_TIERS.replace("days: -3", "dayz: -3"), "tiers.medium.0.dayz"),
        (
            "tiers:"
            + VALID_TIERS.replace(
                "high: []",
                "high: [{days: 5, template: overdue_notice, tone: firm},"
                " {days: 2, template: overdue_notice, tone: firm}]",
            ),
            "tiers.high",
        ),
        ("max_step_age_days: -1\ntiers:" + VALID_TIERS, "max_step_age_days"),
    ],
)
def test_a_bad_policy_is_an_error_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(InputError, match=f"policy .*: {re.escape(named)}: "):
        load_policy(_write(tmp_path, text))


def test_a_template_that_does_not_exist_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "tiers:" + VALID_TIERS.replace("upcoming_due", "dunning_letter"))
    with pytest.raises(InputError, match="template 'dunning_letter' has no file"):
        load_policy(path)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_policy(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="not valid YAML"):
        load_policy(_write(tmp_path, "tiers: [unclosed"))
