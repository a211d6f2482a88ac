"""Tests of the synthetic ledger generator: determinism, schema, realism, formats."""

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from latepay.synthetic import LedgerSummary, generate_ledger
from latepay.synthetic import ledger as ledger_module
from latepay.synthetic.economy import downturn_window

CUSTOMERS = 400
SEED = 11

CANONICAL_COLUMNS = {
    "customers": [
        "customer_id",
        "name",
        "email",
        "industry",
        "country",
        "segment",
        "credit_limit",
        "payment_terms_days",
        "customer_since",
        "excluded_from_outreach",
    ],
    "invoices": [
        "invoice_id",
        "customer_id",
        "issue_date",
        "due_date",
        "amount",
        "currency",
        "payment_method",
        "channel",
    ],
    "payments": ["payment_id", "invoice_id", "paid_date", "amount"],
    "disputes": [
        "dispute_id",
        "invoice_id",
        "customer_id",
        "opened_date",
        "resolved_date",
        "reason",
    ],
    "interactions": ["interaction_id", "customer_id", "date", "channel", "topic"],
    "economic_indicators": ["period", "name", "value", "key"],
}
FEATURES = {"invoices": ["po_number_required"], "customers": ["e_invoicing"]}
DATE_COLUMNS = {
    "customers": ["customer_since"],
    "invoices": ["issue_date", "due_date"],
    "payments": ["paid_date"],
    "disputes": ["opened_date", "resolved_date"],
    "interactions": ["date"],
}
ALL_TABLES = [*CANONICAL_COLUMNS, "truth"]


def read_table(directory: Path, table: str, file_format: str = "csv") -> pd.DataFrame:
    path = directory / f"{table}.{file_format}"
    frame = pd.read_csv(path) if file_format == "csv" else pd.read_parquet(path)
    for column in DATE_COLUMNS.get(table, []):
        frame[column] = pd.to_datetime(frame[column]).dt.as_unit("s")
    return frame


def cents(amounts: pd.Series) -> pd.Series:
    return (amounts * 100).round().astype("int64")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[LedgerSummary, Path]:
    out_dir = tmp_path_factory.mktemp("ledger_csv")
    return generate_ledger(out_dir, customers=CUSTOMERS, seed=SEED), out_dir


@pytest.fixture(scope="module")
def tables(generated: tuple[LedgerSummary, Path]) -> dict[str, pd.DataFrame]:
    _, out_dir = generated
    return {table: read_table(out_dir, table) for table in ALL_TABLES}


@pytest.fixture(scope="module")
def summary(generated: tuple[LedgerSummary, Path]) -> LedgerSummary:
    return generated[0]


@pytest.fixture(scope="module")
def settled(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Invoices whose outcome is known, with their final payment date."""
    final_payment = tables["payments"].groupby("invoice_id")["paid_date"].max()
    invoices = tables["invoices"].merge(tables["truth"], on="invoice_id")
    invoices = invoices.merge(tables["customers"][["customer_id", "industry"]], on="customer_id")
    known = invoices[invoices["is_late_true"].notna()].copy()
    known["final_payment"] = known["invoice_id"].map(final_payment)
    known["days_late"] = (known["final_payment"] - known["due_date"]).dt.days
    return known


# --- determinism -----------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_same_seed_gives_byte_identical_files(tmp_path: Path, file_format: str) -> None:
    first = generate_ledger(tmp_path / "a", customers=60, seed=3, file_format=file_format)
    second = generate_ledger(tmp_path / "b", customers=60, seed=3, file_format=file_format)

    assert first.files.keys() == second.files.keys()
    for name, path in first.files.items():
        assert path.read_bytes() == second.files[name].read_bytes(), name


def test_different_seed_gives_different_ledger(tmp_path: Path) -> None:
    first = generate_ledger(tmp_path / "a", customers=60, seed=3)
    other = generate_ledger(tmp_path / "b", customers=60, seed=4)

    assert first.files["invoices"].read_bytes() != other.files["invoices"].read_bytes()
    assert first.files["customers"].read_bytes() != other.files["customers"].read_bytes()


def test_blocks_number_identifiers_consecutively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "CUSTOMERS_PER_CHUNK", 40)
    summary = generate_ledger(tmp_path / "blocks", customers=100, seed=5)
    customers = read_table(tmp_path / "blocks", "customers")
    invoices = read_table(tmp_path / "blocks", "invoices")
    payments = read_table(tmp_path / "blocks", "payments")

    assert customers["customer_id"].tolist() == [f"C{n:06d}" for n in range(1, 101)]
    assert invoices["invoice_id"].tolist() == [f"INV{n:07d}" for n in range(1, len(invoices) + 1)]
    assert payments["payment_id"].tolist() == [f"PAY{n:07d}" for n in range(1, len(payments) + 1)]
    assert summary.invoices == len(invoices)
    assert summary.payments == len(payments)


# --- schema ----------------------------------------------------------------------------


@pytest.mark.parametrize("table", list(CANONICAL_COLUMNS))
def test_tables_have_canonical_columns_and_features(
    tables: dict[str, pd.DataFrame], table: str
) -> None:
    expected = CANONICAL_COLUMNS[table] + FEATURES.get(table, [])
    assert tables[table].columns.tolist() == expected


def test_truth_columns(tables: dict[str, pd.DataFrame]) -> None:
    truth = tables["truth"]
    assert truth.columns.tolist() == ["invoice_id", "p_true", "is_late_true"]
    assert truth["invoice_id"].tolist() == tables["invoices"]["invoice_id"].tolist()
    assert set(truth["is_late_true"].dropna().unique()) == {0, 1}


@pytest.mark.parametrize(
    ("table", "column", "pattern"),
    [
        ("customers", "customer_id", r"C\d{6}"),
        ("invoices", "invoice_id", r"INV\d{7}"),
        ("payments", "payment_id", r"PAY\d{7}"),
        ("disputes", "dispute_id", r"DSP\d{6}"),
        ("interactions", "interaction_id", r"INT\d{7}"),
    ],
)
def test_identifiers_are_unique_and_well_formed(
    tables: dict[str, pd.DataFrame], table: str, column: str, pattern: str
) -> None:
    ids = tables[table][column]
    assert ids.is_unique
    assert ids.str.fullmatch(pattern).all()


def test_customer_attributes(tables: dict[str, pd.DataFrame], summary: LedgerSummary) -> None:
    customers = tables["customers"]
    assert len(customers) == summary.customers == CUSTOMERS
    assert customers["email"].is_unique
    assert customers["email"].str.fullmatch(r"[a-z.]+\d+@example\.(com|org)").all()
    assert customers["industry"].nunique() == 8
    assert customers["country"].str.fullmatch(r"[A-Z]{2}").all()
    assert set(customers["segment"]) == {"enterprise", "mid-market", "small"}
    assert customers["payment_terms_days"].value_counts().idxmax() == 30
    start = pd.Timestamp(date(2021, 1, 1))
    assert (customers["customer_since"] < start).any()
    assert (customers["customer_since"] >= start).any()
    assert customers["excluded_from_outreach"].mean() < 0.1
    assert customers["e_invoicing"].dtype == bool


def test_invoice_dates_and_references(
    tables: dict[str, pd.DataFrame], summary: LedgerSummary
) -> None:
    invoices = tables["invoices"]
    assert len(invoices) == summary.invoices
    assert (invoices["due_date"] >= invoices["issue_date"]).all()
    assert invoices["issue_date"].min() == pd.Timestamp(summary.first_issue_date)
    assert invoices["issue_date"].max() == pd.Timestamp(summary.last_issue_date)
    assert summary.last_issue_date <= summary.as_of == date(2023, 12, 31)
    assert invoices["customer_id"].isin(tables["customers"]["customer_id"]).all()
    assert (invoices["issue_date"].dt.day_of_week < 5).mean() > 0.9


def test_payments_settle_invoices_exactly(
    tables: dict[str, pd.DataFrame], summary: LedgerSummary, settled: pd.DataFrame
) -> None:
    payments = tables["payments"]
    assert len(payments) == summary.payments
    assert (payments["paid_date"] <= pd.Timestamp(summary.as_of)).all()

    paid_cents = cents(payments["amount"]).groupby(payments["invoice_id"]).sum()
    invoice_cents = cents(tables["invoices"].set_index("invoice_id")["amount"])
    settled_ids = settled["invoice_id"]
    assert (paid_cents.reindex(settled_ids) == invoice_cents.reindex(settled_ids)).all()

    open_ids = paid_cents.index.difference(settled_ids)
    assert (paid_cents[open_ids] < invoice_cents[open_ids]).all()

    issue = payments["invoice_id"].map(tables["invoices"].set_index("invoice_id")["issue_date"])
    assert (payments["paid_date"] >= issue).all()


def test_some_invoices_are_paid_in_two_instalments(tables: dict[str, pd.DataFrame]) -> None:
    instalments = tables["payments"].groupby("invoice_id").size()
    assert instalments.max() == 2
    assert 0.02 < (instalments == 2).mean() < 0.10


def test_outcome_matches_payment_dates(settled: pd.DataFrame) -> None:
    assert ((settled["days_late"] > 0) == (settled["is_late_true"] == 1)).all()


def test_credit_notes_exist_and_get_no_payment(tables: dict[str, pd.DataFrame]) -> None:
    invoices = tables["invoices"]
    credit_notes = invoices.loc[invoices["amount"] < 0, "invoice_id"]
    assert 0.001 < len(credit_notes) / len(invoices) < 0.02
    assert not credit_notes.isin(tables["payments"]["invoice_id"]).any()


def test_disputes_are_opened_after_issue_and_before_payment(
    tables: dict[str, pd.DataFrame], summary: LedgerSummary
) -> None:
    disputes = tables["disputes"]
    assert len(disputes) == summary.disputes > 0
    invoices = tables["invoices"].set_index("invoice_id")
    assert (disputes["opened_date"] > disputes["invoice_id"].map(invoices["issue_date"])).all()
    assert (disputes["customer_id"] == disputes["invoice_id"].map(invoices["customer_id"])).all()
    assert (disputes["opened_date"] <= pd.Timestamp(summary.as_of)).all()

    first_payment = tables["payments"].groupby("invoice_id")["paid_date"].min()
    paid = disputes["invoice_id"].map(first_payment)
    assert (disputes["opened_date"][paid.notna()] < paid[paid.notna()]).all()

    resolved = disputes["resolved_date"].dropna()
    assert (resolved >= disputes.loc[resolved.index, "opened_date"]).all()
    assert disputes["resolved_date"].isna().any()
    assert set(disputes["reason"]) == {"pricing", "quantity", "quality", "missing_po", "duplicate"}


def test_interactions(tables: dict[str, pd.DataFrame], summary: LedgerSummary) -> None:
    interactions = tables["interactions"]
    assert len(interactions) == summary.interactions
    assert (interactions["date"] <= pd.Timestamp(summary.as_of)).all()
    assert set(interactions["channel"]) == {"phone", "email", "portal"}
    assert set(interactions["topic"]) == {
        "complaint",
        "billing_question",
        "address_change",
        "payment_promise",
        "general",
    }


def test_economic_indicators(tables: dict[str, pd.DataFrame], summary: LedgerSummary) -> None:
    indicators = tables["economic_indicators"]
    assert len(indicators) == summary.indicator_rows == 36 * 9
    assert indicators["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    policy = indicators[indicators["name"] == "policy_rate"]
    assert len(policy) == 36
    assert policy["key"].isna().all()
    activity = indicators[indicators["name"] == "industry_activity_index"]
    assert set(activity["key"]) == set(tables["customers"]["industry"])


# --- realism ---------------------------------------------------------------------------


def test_late_rate_is_realistic(summary: LedgerSummary, settled: pd.DataFrame) -> None:
    assert 0.2 <= summary.late_rate <= 0.4
    assert summary.late_rate == pytest.approx(settled["is_late_true"].mean())


def test_p_true_ranks_outcomes(settled: pd.DataFrame) -> None:
    assert roc_auc_score(settled["is_late_true"], settled["p_true"]) > 0.75


def test_days_late_has_short_and_long_delays(settled: pd.DataFrame) -> None:
    days_late = settled.loc[settled["is_late_true"] == 1, "days_late"]
    short_share = (days_late <= 30).mean()
    assert 0.45 < short_share < 0.75
    assert days_late.min() >= 1
    assert days_late.max() <= 180


def test_payment_method_drives_lateness(settled: pd.DataFrame) -> None:
    by_method = settled.groupby("payment_method")["is_late_true"].mean()
    assert by_method["direct_debit"] < by_method["bank_transfer"] < by_method["cheque"]


def test_downturn_industries_pay_later_during_downturn(
    tables: dict[str, pd.DataFrame], settled: pd.DataFrame
) -> None:
    activity = tables["economic_indicators"].query("name == 'industry_activity_index'")
    index = activity.pivot(index="period", columns="key", values="value")
    window = downturn_window(len(index))
    drop = index.iloc[: window.start].mean() - index.iloc[list(window)].mean()
    hit = drop[drop > 8].index
    assert 2 <= len(hit) <= 3

    periods = settled["issue_date"].dt.strftime("%Y-%m")
    during = periods.isin(index.index[list(window)])
    before = periods < index.index[window.start]
    in_hit = settled["industry"].isin(hit)
    late = settled["is_late_true"]

    hit_change = late[in_hit & during].mean() - late[in_hit & before].mean()
    other_change = late[~in_hit & during].mean() - late[~in_hit & before].mean()
    assert hit_change > 0.05
    assert hit_change > other_change


def test_regime_change_makes_hit_industries_pay_differently_in_the_downturn(
    tmp_path: Path, tables: dict[str, pd.DataFrame]
) -> None:
    generate_ledger(tmp_path, customers=CUSTOMERS, seed=SEED, regime_change=True)
    shifted = {table: read_table(tmp_path, table) for table in ALL_TABLES}
    pd.testing.assert_frame_equal(shifted["economic_indicators"], tables["economic_indicators"])

    activity = tables["economic_indicators"].query("name == 'industry_activity_index'")
    index = activity.pivot(index="period", columns="key", values="value")
    window = downturn_window(len(index))
    drop = index.iloc[: window.start].mean() - index.iloc[list(window)].mean()
    hit = drop[drop > 8].index
    trough = index.index[window.start + 3 : window.stop]  # after the downturn's ramp

    def p_true_by(ledger: dict[str, pd.DataFrame]) -> pd.DataFrame:
        invoices = (
            ledger["invoices"]
            .merge(ledger["truth"], on="invoice_id")
            .merge(ledger["customers"][["customer_id", "industry"]], on="customer_id")
        )
        invoices = invoices[invoices["p_true"].notna()]
        invoices["where"] = np.where(invoices["industry"].isin(hit), "hit", "other")
        invoices["when"] = np.where(
            invoices["issue_date"].dt.strftime("%Y-%m").isin(trough), "trough", "else"
        )
        return invoices.groupby(["where", "when", "payment_method"])["p_true"].mean()

    plain, regime = p_true_by(tables), p_true_by(shifted)
    # Outside the hit industries, and before or after the trough in them, nothing changes.
    for where, when in (("other", "trough"), ("other", "else")):
        assert np.allclose(plain[where, when], regime[where, when], atol=0.02)
    # In the trough, direct debit stops protecting and everyone in the hit industries pays later.
    dd_gap = {
        name: p["hit", "trough", "bank_transfer"] - p["hit", "trough", "direct_debit"]
        for name, p in (("plain", plain), ("regime", regime))
    }
    assert dd_gap["plain"] > 0.15
    assert dd_gap["regime"] < dd_gap["plain"] - 0.1
    assert (regime["hit", "trough"] > plain["hit", "trough"] + 0.05).all()


# --- formats and mapping ---------------------------------------------------------------


def test_parquet_output_matches_csv(tmp_path: Path, generated: tuple[LedgerSummary, Path]) -> None:
    csv_summary, csv_dir = generated
    parquet_summary = generate_ledger(
        tmp_path, customers=CUSTOMERS, seed=SEED, file_format="parquet"
    )

    assert parquet_summary.invoices == csv_summary.invoices
    for table in ALL_TABLES:
        assert parquet_summary.files[table].suffix == ".parquet"
        from_parquet = read_table(tmp_path, table, "parquet")
        from_csv = read_table(csv_dir, table, "csv")
        pd.testing.assert_frame_equal(from_parquet, from_csv, check_dtype=False)


def test_mapping_declares_every_table(generated: tuple[LedgerSummary, Path]) -> None:
    summary, out_dir = generated
    mapping = yaml.safe_load(summary.files["mapping"].read_text(encoding="utf-8"))

    assert summary.files["mapping"] == out_dir / "mapping.yaml"
    assert set(mapping) == set(CANONICAL_COLUMNS)
    for table, entry in mapping.items():
        path = out_dir / entry["path"]
        assert not Path(entry["path"]).is_absolute()
        assert path.exists()
        assert entry["columns"] == {column: column for column in CANONICAL_COLUMNS[table]}
        assert entry.get("features", []) == FEATURES.get(table, [])
        header = pd.read_csv(path, nrows=0).columns
        assert set(entry["columns"].values()) | set(entry.get("features", [])) == set(header)


def test_progress_is_reported(tmp_path: Path) -> None:
    calls: list[tuple[str, float]] = []
    generate_ledger(
        tmp_path, customers=10, progress=lambda stage, done: calls.append((stage, done))
    )

    stages = [stage for stage, _ in calls]
    assert stages[0] == "economy"
    assert stages[-1] == "mapping"
    assert ("customers", 1.0) in calls
    assert all(0.0 <= done <= 1.0 for _, done in calls)


@pytest.mark.parametrize(
    "arguments",
    [
        {"customers": 0},
        {"customers": 5, "months": 0},
        {"customers": 5, "start": date(2021, 1, 15)},
        {"customers": 5, "file_format": "xlsx"},
    ],
)
def test_invalid_arguments_are_rejected(tmp_path: Path, arguments: dict) -> None:
    with pytest.raises(ValueError):
        generate_ledger(tmp_path, **arguments)


def test_short_period_still_produces_a_consistent_ledger(tmp_path: Path) -> None:
    summary = generate_ledger(tmp_path, customers=30, seed=1, start=date(2024, 2, 1), months=2)
    invoices = read_table(tmp_path, "invoices")

    assert summary.as_of == date(2024, 3, 31)
    assert invoices["issue_date"].between("2024-02-01", "2024-03-31").all()
    assert np.isfinite(summary.late_rate)
