"""Customer behaviour as of a moment: disputes, service contacts, payment-method changes and
broken promises to pay."""

from __future__ import annotations

import numpy as np
import pandas as pd

from latepay.features.events import EventStream, GroupCodes, day_numbers

RECENT_DISPUTE_DAYS = 90
INTERACTION_WINDOWS_DAYS = (30, 90)
# Topic families, by a word in the topic: a fixed set, so that one customer's history gives the
# same columns as the whole ledger. Complaints weigh more than other contacts.
TOPIC_FAMILIES = {"complaints": "complain", "billing_questions": "billing", "promises": "promise"}


class Disputes:
    """Disputes opened before the moment: count, still open at it, per invoice, recent."""

    def __init__(self, disputes: pd.DataFrame, codes: GroupCodes) -> None:
        groups = codes.encode(disputes["customer_id"])
        self._opened = EventStream(groups, day_numbers(disputes["opened_date"]))
        self._resolved = EventStream(groups, day_numbers(disputes["resolved_date"]))

    def features(
        self, query_groups: np.ndarray, query_days: np.ndarray, issued_before: np.ndarray
    ) -> dict[str, np.ndarray]:
        q, t = query_groups, query_days
        count = self._opened.total_before("count", q, t)
        rate = np.full(len(q), np.nan)
        np.divide(count, issued_before, out=rate, where=issued_before > 0)
        return {
            "disputes_count": count,
            "disputes_open": count - self._resolved.total_before("count", q, t),
            "disputes_per_invoice": rate,
            f"disputes_{RECENT_DISPUTE_DAYS}d": self._opened.total_between(
                "count", q, t, RECENT_DISPUTE_DAYS
            ),
        }


class Interactions:
    """Customer-service contacts logged in the last 30 and 90 days, in all and by topic family."""

    def __init__(self, interactions: pd.DataFrame, codes: GroupCodes) -> None:
        groups = codes.encode(interactions["customer_id"])
        topic = interactions["topic"].fillna("").astype(str).str.lower()
        families = {
            family: topic.str.contains(word, regex=False).to_numpy().astype(np.int64)
            for family, word in TOPIC_FAMILIES.items()
        }
        self._contacts = EventStream(groups, day_numbers(interactions["date"]), families)

    def features(self, query_groups: np.ndarray, query_days: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for window in INTERACTION_WINDOWS_DAYS:
            for name in ("count", *TOPIC_FAMILIES):
                column = "contacts" if name == "count" else name
                out[f"{column}_{window}d"] = self._contacts.total_between(
                    name, query_groups, query_days, window
                )
        return out


class PaymentMethods:
    """How often the customer changed payment method, and whether this invoice changes it.

    A change is an invoice whose method differs from the customer's previous invoice (in issue
    order); invoices without a method are left out.
    """

    def __init__(self, invoices: pd.DataFrame, codes: GroupCodes) -> None:
        known = invoices[invoices["payment_method"].notna()].sort_values(
            ["customer_id", "issue_date", "invoice_id"], kind="stable"
        )
        method = known["payment_method"].astype(str)
        previous = method.groupby(known["customer_id"], sort=False).shift()
        changed = (previous.notna() & (method != previous)).to_numpy().astype(np.int64)
        groups = codes.encode(known["customer_id"])
        self._methods = method.to_numpy(dtype=object)
        self._issued = EventStream(groups, day_numbers(known["issue_date"]), {"changed": changed})

    def features(
        self, query_groups: np.ndarray, query_days: np.ndarray, query_methods: pd.Series
    ) -> dict[str, np.ndarray]:
        last = self._issued.last_event_before(query_groups, query_days)
        last_method = np.full(len(last), None, dtype=object)
        last_method[last >= 0] = self._methods[last[last >= 0]]
        this_method = query_methods.to_numpy(dtype=object)
        differs = np.where(
            (last >= 0) & pd.notna(this_method),
            (this_method != last_method).astype(float),
            np.nan,
        )
        return {
            "payment_method_changes": self._issued.total_before(
                "changed", query_groups, query_days
            ),
            "payment_method_differs_from_last": differs,
        }


class BrokenPromises:
    """Promises to pay the customer broke, as known before the moment: count and share.

    A promise (recorded on day r for date p) is *kept* when its invoice was settled on or
    before p, *broken* otherwise. Its fate is known once both its recording and its date are
    behind: from the day after ``max(r, p)``, because whether a payment arrived on day p is
    known from the next day on. So a promise counts only when ``max(r, p)`` is strictly before
    the moment, and a settlement on or after the moment never turns a broken promise into a
    kept one (it came after p anyway). ``broken_promise_share`` is broken over decided
    promises, NaN for a customer without one.
    """

    def __init__(self, promises: pd.DataFrame, invoices: pd.DataFrame, codes: GroupCodes) -> None:
        settled = invoices.drop_duplicates("invoice_id").set_index("invoice_id")["settled_date"]
        # Never settled is the largest day number, so it counts as settled after any promise.
        settled_day = day_numbers(settled.reindex(promises["invoice_id"].to_numpy()).to_numpy())
        promised_day = day_numbers(promises["promised_date"])
        broken = (settled_day > promised_day).astype(np.int64)
        decided = np.maximum(day_numbers(promises["recorded_date"]), promised_day)
        self._decided = EventStream(
            codes.encode(promises["customer_id"]), decided, {"broken": broken}
        )

    def features(self, query_groups: np.ndarray, query_days: np.ndarray) -> dict[str, np.ndarray]:
        count = self._decided.total_before("count", query_groups, query_days)
        broken_count = self._decided.total_before("broken", query_groups, query_days)
        share = np.full(len(query_groups), np.nan)
        np.divide(broken_count, count, out=share, where=count > 0)
        return {"broken_promises": broken_count, "broken_promise_share": share}
