import pandas as pd

from latepay.actions.segments import customer_segments


def test_customers_without_any_settled_history_are_segmented_by_their_scores_alone():
    open_invoices = pd.DataFrame(
        {"customer_id": ["A", "A", "B"], "amount": [100.0, 300.0, 50.0], "p_late": [0.2, 0.6, 0.9]}
    )
    no_history = pd.DataFrame(columns=["customer_id", "settled", "paid_late"])
    segments = customer_segments(open_invoices, no_history, cutoffs=(0.25, 0.5, 0.75))
    # A: amount-weighted P(late) (100 x 0.2 + 300 x 0.6) / 400 = 0.5, the at-risk cut-off.
    assert segments["risk_score"].tolist() == [0.5, 0.9]
    assert segments["segment"].tolist() == ["at-risk", "critical"]
    assert segments["settled"].tolist() == [0, 0]
    assert segments["late_share"].isna().all()
