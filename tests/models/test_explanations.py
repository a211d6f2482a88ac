import math

import pandas as pd

from latepay.models.explanations import sentence_for, top_reasons


def row(**values) -> pd.Series:
    return pd.Series(values, dtype=object)


def test_history_sentences_read_like_a_collector_would_say_them() -> None:
    r = row(hist_late_count=6.0, hist_paid_count=10.0, hist_late_ratio=0.6)
    assert sentence_for("hist_late_ratio", r) == "paid 6 of 10 earlier invoices late"
    assert sentence_for("hist_late_ratio_last3", row(hist_late_ratio_last3=2 / 3)) == (
        "67% of the last 3 payments were late"
    )
    assert sentence_for("hist_days_late_last1", row(hist_days_late_last1=12.0)) == (
        "12 days late on the last payment"
    )
    assert (
        sentence_for(
            "hist_same_channel_late_ratio", row(hist_same_channel_late_ratio=0.5, channel="paper")
        )
        == "paid 50% of earlier paper invoices late"
    )


def test_economic_indicator_sentences_say_which_way_it_moved() -> None:
    r = row(econ_industry_activity_index_chg3m=-3.2, econ_industry_activity_index_vs12m=-15.25)
    assert sentence_for("econ_industry_activity_index_chg3m", r) == (
        "industry activity index down 3.20 over 3 months"
    )
    assert sentence_for("econ_industry_activity_index_vs12m", r) == (
        "industry activity index 15.25 below its 12-month average"
    )
    assert sentence_for("econ_policy_rate_chg3m", row(econ_policy_rate_chg3m=0.0)) == (
        "policy rate unchanged over 3 months"
    )


def test_unknown_or_missing_values_fall_back_to_plain_words() -> None:
    assert sentence_for("econ_activity", row(econ_activity=97.25)) == "activity at 97.25"
    assert sentence_for("hist_late_ratio", row(hist_late_ratio=math.nan)) == (
        "hist late ratio: unknown"
    )


def test_only_features_pushing_towards_lateness_are_reasons() -> None:
    features = pd.DataFrame(
        {"open_count": [3.0, 0.0], "terms_days": [60.0, 30.0], "is_month_end": [1.0, 0.0]}
    )
    contributions = pd.DataFrame(
        {"open_count": [0.8, -0.2], "terms_days": [0.1, -0.1], "is_month_end": [-0.3, -0.5]}
    )
    first, second = top_reasons(features, contributions, top=3)
    assert [r.feature for r in first] == ["open_count", "terms_days"]
    assert first[0].sentence == "3 other invoices still open"
    assert first[0].contribution == 0.8
    assert second == []
