"""The next step for one scored invoice, by its risk tier.

A first, tier-only policy: every score answer carries an action a collector or a billing
clerk can take at once. Segment policies refine it per customer segment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Action:
    code: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


ACTIONS_BY_TIER = {
    "low": Action("standard", "No extra step: the usual statement and due-date reminder."),
    "medium": Action(
        "reminder_before_due",
        "Send a friendly reminder a few days before the due date.",
    ),
    "high": Action(
        "call_before_due",
        "Call before the due date: confirm the invoice was received and approved for payment.",
    ),
    "critical": Action(
        "escalate_now",
        "Contact the customer now for a payment date; offer an early-payment discount or "
        "ask for prepayment on new orders.",
    ),
}


# Once the due date has passed, the question is no longer whether to remind but how hard.
OVERDUE_ACTIONS_BY_TIER = {
    "low": Action("overdue_statement", "Send the overdue statement; most pay within days."),
    "medium": Action("overdue_reminder", "Send a firm reminder and ask for a payment date."),
    "high": Action("call_overdue", "Call today and get a payment date."),
    "critical": Action(
        "escalate_now",
        "Call today for a payment date; hold new orders or ask for prepayment until it is paid.",
    ),
}


def recommended_action(risk_tier: str, *, overdue: bool = False) -> Action:
    """The action for an invoice of ``risk_tier`` (low, medium, high or critical), before its
    due date or, when ``overdue``, after it."""
    try:
        return (OVERDUE_ACTIONS_BY_TIER if overdue else ACTIONS_BY_TIER)[risk_tier]
    except KeyError:
        raise ValueError(
            f"unknown risk tier {risk_tier!r}; expected {list(ACTIONS_BY_TIER)}"
        ) from None
