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


def recommended_action(risk_tier: str) -> Action:
    """The action for an invoice of ``risk_tier`` (low, medium, high or critical)."""
    try:
        return ACTIONS_BY_TIER[risk_tier]
    except KeyError:
        raise ValueError(
            f"unknown risk tier {risk_tier!r}; expected {list(ACTIONS_BY_TIER)}"
        ) from None
