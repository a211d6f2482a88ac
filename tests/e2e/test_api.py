"""The HTTP API over real HTTP: a ``latepay serve`` process, called with httpx."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from tests.e2e.conftest import Served

from latepay.db.tables import Dispute, Invoice, Prediction
from latepay.errors import ConflictError
from latepay.features import load_ledger
from latepay.models.registry import ModelRegistry
from latepay.scoring import issuance, score_invoices
from latepay.scoring.issuance import canonical_records, issue_invoices
from latepay.webhooks import verify

pytestmark = pytest.mark.slow

NEW_INVOICE = {
    "invoice_id": "API-0001",
    "customer_id": "C000001",
    "issue_date": "2023-06-01",
    "payment_terms_days": 30,
    "amount": 1200.0,
    "currency": "EUR",
    "features": {"po_number_required": 1},
}


def invoice(invoice_id: str | None, **changes) -> dict:
    return {**NEW_INVOICE, "invoice_id": invoice_id, **changes}


def prediction_count(served: Served, invoice_id: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(Prediction)
    if invoice_id is not None:
        query = query.where(Prediction.invoice_id == invoice_id)
    with served.engine.connect() as connection:
        return connection.scalar(query)


def test_health_needs_no_key_and_names_the_champion(served: Served) -> None:
    answer = httpx.get(f"{served.base_url}/healthz")
    assert answer.status_code == 200
    assert answer.json()["database"] == "ok"
    assert answer.json()["model_version"].startswith("gbm-")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/invoices"),
        ("GET", "/v1/invoices/X"),
        ("POST", "/v1/score"),
        ("GET", "/v1/customers/C000001"),
        ("GET", "/metrics"),
    ],
)
def test_every_route_but_health_needs_a_key(served: Served, method: str, path: str) -> None:
    with served.client(role=None) as client:
        missing = client.request(method, path, json={})
        wrong = client.request(method, path, json={}, headers={"Authorization": "Bearer lp_nope"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "collector"])
def test_only_billing_and_admin_keys_post_invoices(served: Served, role: str) -> None:
    with served.client(role) as client:
        answer = client.post("/v1/invoices", json=invoice(f"ROLE-{role}"))
    assert answer.status_code == 403
    assert "billing" in answer.json()["detail"]
    assert prediction_count(served, f"ROLE-{role}") == 0


def test_a_revoked_key_is_refused(served: Served) -> None:
    created = served.latepay("--json", "keys", "create", "--role", "viewer", "--name", "temp")
    key_id, key = (json.loads(created.stdout)[k] for k in ("id", "key"))
    served.latepay("keys", "revoke", str(key_id))
    answer = httpx.get(
        f"{served.base_url}/v1/customers/C000001", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 401
    listed = served.latepay("--json", "keys", "list").stdout
    assert key not in listed  # only a prefix is ever shown


def test_posting_an_invoice_stores_scores_and_answers_in_full(served: Served) -> None:
    with served.client("billing") as client:
        answer = client.post("/v1/invoices", json=invoice("API-NEW-1"))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["created"] is True
    assert 0 < body["p_late"] < 1
    assert set(body["bucket_probabilities"]) == {"on_time", "late_1_30", "late_31_plus"}
    assert sum(body["bucket_probabilities"].values()) == pytest.approx(1)
    assert body["bucket_probabilities"]["on_time"] == pytest.approx(1 - body["p_late"])
    assert body["risk_tier"] in {"low", "medium", "high", "critical"}
    assert len(body["reasons"]) == 3
    assert all(r["sentence"] for r in body["reasons"])
    assert body["recommended_action"]["code"]
    assert body["as_of"] == "2023-06-01"
    with served.engine.connect() as connection:
        stored = connection.execute(
            sa.select(Invoice).where(Invoice.invoice_id == "API-NEW-1")
        ).one()
        recorded = connection.execute(
            sa.select(Prediction).where(Prediction.invoice_id == "API-NEW-1")
        ).one()
    assert stored.due_date.isoformat() == "2023-07-01"
    assert stored.extra == {"po_number_required": 1}
    assert recorded.model_version == body["model_version"]
    assert recorded.p_late == pytest.approx(body["p_late"])
    assert len(recorded.inputs_hash) == 16


def test_posting_the_same_invoice_again_gives_the_same_answer(served: Served) -> None:
    with served.client("billing") as client:
        first = client.post("/v1/invoices", json=invoice("API-IDEM-1"))
        again = client.post("/v1/invoices", json=invoice("API-IDEM-1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "created": False}
    assert prediction_count(served, "API-IDEM-1") == 1


def test_an_id_reused_for_other_content_is_a_conflict_and_stores_nothing(served: Served) -> None:
    with served.client("billing") as client:
        assert client.post("/v1/invoices", json=invoice("API-CONF-1")).status_code == 201
        conflict = client.post(
            "/v1/invoices",
            json=[invoice("API-CONF-2"), invoice("API-CONF-1", amount=999.0)],
        )
    assert conflict.status_code == 409
    assert "API-CONF-1" in conflict.json()["detail"]
    with served.engine.connect() as connection:
        amounts = dict(
            connection.execute(
                sa.select(Invoice.invoice_id, Invoice.amount).where(
                    Invoice.invoice_id.in_(["API-CONF-1", "API-CONF-2"])
                )
            ).all()
        )
    assert amounts == {"API-CONF-1": 1200.0}


def copies_of(originals: pd.DataFrame, prefix: str) -> list[dict]:
    """Ledger invoices as posts of new invoices, their ids prefixed, all else the same."""
    return [
        {
            "invoice_id": f"{prefix}{row.invoice_id}",
            "customer_id": row.customer_id,
            "issue_date": f"{row.issue_date:%Y-%m-%d}",
            "due_date": f"{row.due_date:%Y-%m-%d}",
            "amount": row.amount,
            "currency": row.currency,
            "payment_method": row.payment_method,
            "channel": row.channel,
            "features": {"po_number_required": row.inv_po_number_required},
        }
        for row in originals.itertuples()
    ]


def metric(text: str, series: str) -> float:
    """The value of ``series`` (name and labels, as written) in a /metrics ``text``; 0 when
    it is not there yet."""
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def snapshot_groups(client: httpx.Client) -> float:
    return metric(
        client.get("/metrics").text, 'latepay_scoring_group_features_total{source="snapshot"}'
    )


def test_a_group_answered_from_the_ledger_snapshot_equals_the_backtest(served: Served) -> None:
    """The server's prepared ledger, not a database read, gives the backtest's features.

    The invoices copied are of customers and days no other test here writes before: every
    invoice these tests post is issued on 2023-06-01 or later, so the copies' customers are
    still as the snapshot has them."""
    for _ in range(100):
        if httpx.get(f"{served.base_url}/healthz").json()["ledger_snapshot"] == "ready":
            break
        time.sleep(0.1)
    ledger = load_ledger(served.engine)
    invoices = ledger.invoices[
        ~ledger.invoices["is_credit_note"]
        & (ledger.invoices["customer_id"] != NEW_INVOICE["customer_id"])
        & ledger.invoices["issue_date"].between("2023-01-01", "2023-05-31")
    ]
    originals = invoices.sample(6, random_state=11)
    model = ModelRegistry(served.folder / "models", served.engine).load_champion()
    backtest = score_invoices(model, ledger, originals).set_index("invoice_id")
    posted = copies_of(originals, "SNAP-")
    with served.client("billing") as client:
        before = snapshot_groups(client)
        answer = client.post("/v1/invoices", json=posted)
        assert snapshot_groups(client) == before + 1
    assert answer.status_code == 201, answer.text
    for result in answer.json()["results"]:
        original = backtest.loc[result["invoice_id"].removeprefix("SNAP-")]
        assert result["p_late"] == pytest.approx(original["p_late"], abs=1e-12)
        assert result["expected_days_late"] == pytest.approx(original["expected_days_late"])
        assert [r["feature"] for r in result["reasons"]] == [
            r["feature"] for r in original["reasons"]
        ]


def test_a_list_is_answered_in_its_order(served: Served) -> None:
    ids = [f"API-LIST-{n}" for n in range(5)]
    with served.client("billing") as client:
        answer = client.post(
            "/v1/invoices", json=[invoice(i, amount=100.0 * (n + 1)) for n, i in enumerate(ids)]
        )
    assert answer.status_code == 201
    assert [r["invoice_id"] for r in answer.json()["results"]] == ids


def test_the_api_score_equals_the_backtest_score_of_the_same_invoice(served: Served) -> None:
    """An invoice posted at issuance gets the features and score a backtest gives it."""
    ledger = load_ledger(served.engine)
    invoices = ledger.invoices[~ledger.invoices["is_credit_note"]]
    originals = invoices[invoices["issue_date"] >= "2023-09-01"].sample(5, random_state=3)
    model = ModelRegistry(served.folder / "models", served.engine).load_champion()
    backtest = score_invoices(model, ledger, originals).set_index("invoice_id")

    posted = copies_of(originals, "COPY-")
    with served.client("billing") as client:
        answer = client.post("/v1/invoices", json=posted)
    assert answer.status_code == 201, answer.text
    for result in answer.json()["results"]:
        original = backtest.loc[result["invoice_id"].removeprefix("COPY-")]
        assert result["p_late"] == pytest.approx(original["p_late"], abs=1e-12)
        assert result["expected_days_late"] == pytest.approx(original["expected_days_late"])
        assert result["risk_tier"] == original["risk_tier"]
    with served.engine.connect() as connection:
        hashes = dict(
            connection.execute(
                sa.select(Prediction.invoice_id, Prediction.inputs_hash).where(
                    Prediction.invoice_id.in_([p["invoice_id"] for p in posted])
                )
            ).all()
        )
    assert {k.removeprefix("COPY-"): v for k, v in hashes.items()} == (
        backtest["inputs_hash"].to_dict()
    )


def test_what_if_scores_variations_and_stores_nothing(served: Served) -> None:
    with served.client("billing") as client:
        posted = client.post("/v1/invoices", json=invoice("API-WHATIF-1")).json()
        before = prediction_count(served)
        answer = client.post(
            "/v1/score",
            json={
                "invoice_id": "API-WHATIF-1",
                "scenarios": [{"amount": 50.0}, {"payment_terms_days": 90}],
            },
        )
        draft = client.post("/v1/score", json={"invoice": invoice("NOT-STORED")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["base"]["p_late"] == pytest.approx(posted["p_late"], abs=1e-12)
    assert [s["changes"] for s in body["scenarios"]] == [
        {"amount": 50.0},
        {"payment_terms_days": 90},
    ]
    for scenario in body["scenarios"]:
        change = scenario["score"]["p_late"] - body["base"]["p_late"]
        assert scenario["p_late_change"] == pytest.approx(change)
    assert draft.status_code == 200
    assert draft.json()["base"]["p_late"] == pytest.approx(posted["p_late"], abs=1e-12)
    assert prediction_count(served) == before


def test_invoice_and_customer_read_back(served: Served) -> None:
    with served.client("billing") as client:
        posted = client.post("/v1/invoices", json=invoice("API-READ-1")).json()
    with served.client("viewer") as client:
        detail = client.get("/v1/invoices/API-READ-1")
        customer = client.get("/v1/customers/C000001")
        unknown = client.get("/v1/invoices/NO-SUCH")
    assert detail.status_code == 200
    assert detail.json()["status"] == "open"
    assert detail.json()["latest_score"]["p_late"] == pytest.approx(posted["p_late"])
    assert customer.status_code == 200
    history = customer.json()["history"]
    assert history["invoices"] >= history["settled"] >= history["paid_late"] > 0
    assert customer.json()["open_invoices"] >= 1
    assert customer.json()["risk_segment"] in {"reliable", "watch", "at-risk", "critical"}
    assert customer.json()["strategy"] in {
        "protect the relationship",
        "low-hanging fruit",
        "escalate",
        "automate",
    }
    assert 0 <= customer.json()["risk_score"] <= 1
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no invoice 'NO-SUCH'"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**NEW_INVOICE, "payment_terms_days": None}, "give due_date or payment_terms_days"),
        ({**NEW_INVOICE, "amount": -5}, "greater than 0"),
        ({**NEW_INVOICE, "amout": 5}, "amout"),
        ({**NEW_INVOICE, "features": {}}, "po_number_required"),
        ({**NEW_INVOICE, "due_date": "2023-05-01"}, "before issue_date"),
    ],
)
def test_bad_bodies_are_422_with_a_clear_detail(served: Served, body: dict, expected: str) -> None:
    with served.client("billing") as client:
        answer = client.post("/v1/invoices", json={**body, "invoice_id": "API-BAD"})
    assert answer.status_code == 422
    assert expected in answer.text
    assert "Traceback" not in answer.text
    assert prediction_count(served, "API-BAD") == 0


def test_an_oversized_body_is_refused(served: Served) -> None:
    many = [invoice(f"API-BIG-{n}", payment_method="x" * 60) for n in range(5000)]
    with served.client("billing") as client:
        answer = client.post("/v1/invoices", json=many)
    assert answer.status_code == 413


def test_concurrent_posts_all_succeed_and_are_each_recorded_once(served: Served) -> None:
    ids = [f"API-CONC-{n}" for n in range(40)]

    async def post_all() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {served.keys['billing']}"}
        async with httpx.AsyncClient(base_url=served.base_url, headers=headers, timeout=60) as c:
            return await asyncio.gather(
                *(
                    c.post("/v1/invoices", json=invoice(i, amount=10.0 + n))
                    for n, i in enumerate(ids)
                )
            )

    answers = asyncio.run(post_all())
    assert [a.status_code for a in answers] == [201] * len(ids)
    assert [a.json()["invoice_id"] for a in answers] == ids
    for invoice_id in ids:
        assert prediction_count(served, invoice_id) == 1


def test_metrics_count_requests_and_scores(served: Served) -> None:
    with served.client("billing") as client:
        client.post("/v1/invoices", json=invoice("API-METRICS-1"))
    with served.client("viewer") as client:
        text = client.get("/metrics").text
    assert 'latepay_http_requests_total{method="POST",route="/v1/invoices",status="201"}' in text
    assert "latepay_http_request_duration_seconds_bucket" in text
    assert "latepay_scores_total{risk_tier=" in text
    assert "latepay_champion_info{version=" in text


def group_timings(client: httpx.Client) -> tuple[float, float, float]:
    """Scoring groups so far, their wall time in all, and their scoring thread's CPU time."""
    text = client.get("/metrics").text
    return (
        metric(text, "latepay_scoring_group_duration_seconds_count"),
        metric(text, "latepay_scoring_group_duration_seconds_sum"),
        metric(text, "latepay_scoring_group_cpu_seconds_total"),
    )


def test_metrics_time_each_scoring_group(served: Served) -> None:
    with served.client("billing") as client:
        before = group_timings(client)
        client.post("/v1/invoices", json=invoice("API-GROUP-TIME-1"))
        after = group_timings(client)
    groups, seconds, cpu = (now - then for now, then in zip(after, before, strict=True))
    assert groups == 1
    # A thread cannot use more CPU than the time that passed while it ran.
    assert 0 < cpu <= seconds


def test_a_promoted_model_is_served_without_a_restart(served: Served) -> None:
    before = httpx.get(f"{served.base_url}/healthz").json()["model_version"]
    registry = ModelRegistry(served.folder / "models", served.engine)
    challenger = registry.register(
        registry.load(before), data_hash="same", trained_from=None, trained_to=None, metrics={}
    )
    registry.promote(challenger, decision="test: hot swap")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = httpx.get(f"{served.base_url}/healthz").json()["model_version"]
        if now != before:
            break
        time.sleep(0.2)
    assert now == challenger
    with served.client("billing") as client:
        answer = client.post("/v1/invoices", json=invoice("API-SWAP-1"))
    assert answer.json()["model_version"] == now


def test_schemathesis_finds_no_server_error(served: Served) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            f"{served.base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {served.keys['admin']}",
            # Each example is a real request, some (retraining) of seconds: 25 an operation
            # keeps a back end's run near a minute.
            "--max-examples",
            "25",
            "--seed",
            "7",
            "--request-timeout",
            "30",
        ],
        cwd=served.folder,  # schemathesis keeps its example database in the working folder
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Traceback" not in served.log.read_text()


def start_receiver() -> tuple[ThreadingHTTPServer, list[tuple[dict[str, str], bytes]]]:
    """A subscriber's endpoint on a free loopback port, recording what it receives."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def test_a_high_risk_invoice_is_announced_to_subscribers_signed(served: Served) -> None:
    receiver, received = start_receiver()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    try:
        with served.client("admin") as admin:
            made = admin.post("/v1/webhooks", json={"url": url, "events": ["invoice.high_risk"]})
            assert made.status_code == 201, made.text
            secret = made.json()["secret"]
            assert secret not in admin.get("/v1/webhooks").text
        with served.client("billing") as billing:
            # The customer with the worst record gets a large invoice: high or critical risk.
            customers = [f"C{n:06d}" for n in range(1, 60)]
            drafts = {
                c: billing.post(
                    "/v1/score", json={"invoice": invoice(None, customer_id=c, amount=9e4)}
                ).json()["base"]["p_late"]
                for c in customers
            }
            riskiest = max(drafts, key=drafts.get)
            posted = billing.post(
                "/v1/invoices", json=invoice("API-HOOK-1", customer_id=riskiest, amount=9e4)
            ).json()
        assert posted["risk_tier"] in {"high", "critical"}
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(received) == 1
        headers, body = received[0]
        assert verify(
            secret, headers["X-Latepay-Timestamp"], body.decode(), headers["X-Latepay-Signature"]
        )
        event = json.loads(body)
        assert event["type"] == "invoice.high_risk"
        assert event["data"]["invoice_id"] == "API-HOOK-1"
        assert event["data"]["p_late"] == pytest.approx(posted["p_late"])
    finally:
        receiver.shutdown()
        receiver.server_close()
        with served.client("admin") as admin:
            for subscription in admin.get("/v1/webhooks").json():
                admin.delete(f"/v1/webhooks/{subscription['id']}")


def test_only_admins_manage_webhooks(served: Served) -> None:
    with served.client("billing") as client:
        answer = client.post("/v1/webhooks", json={"url": "https://crm.example.com/hooks"})
    assert answer.status_code == 403


def test_a_refused_request_does_not_decide_the_content_of_an_id_another_one_uses(
    served: Served,
) -> None:
    """In one group, request A reuses a stored id (refused) and names a new id that request
    B also names with other content: B's content is what gets stored."""
    model = ModelRegistry(served.folder / "models", served.engine).load_champion()
    with served.client("billing") as client:
        assert client.post("/v1/invoices", json=invoice("GRP-STORED")).status_code == 201
    first = canonical_records([invoice("GRP-STORED", amount=1.0), invoice("GRP-NEW", amount=111.0)])
    second = canonical_records([invoice("GRP-NEW", amount=222.0)])
    refused, accepted = issue_invoices(
        served.engine, model, [first, second], tier_cutoffs=(0.25, 0.5, 0.75)
    )
    assert isinstance(refused, ConflictError)
    assert accepted.created == [True]
    with served.engine.connect() as connection:
        amount = connection.scalar(sa.select(Invoice.amount).where(Invoice.invoice_id == "GRP-NEW"))
    assert amount == 222.0


def test_an_id_stored_by_another_writer_meanwhile_is_answered_as_a_repeat(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read saw no invoice, but another process stored it before our insert."""
    model = ModelRegistry(served.folder / "models", served.engine).load_champion()
    with served.client("billing") as client:
        first = client.post("/v1/invoices", json=invoice("RACE-1")).json()
    real_stored_hashes = issuance._stored_hashes
    reads = []

    def stale_on_first_read(connection, invoice_ids):
        reads.append(invoice_ids)
        return {} if len(reads) == 1 else real_stored_hashes(connection, invoice_ids)

    monkeypatch.setattr(issuance, "_stored_hashes", stale_on_first_read)
    (result,) = issue_invoices(
        served.engine,
        model,
        [canonical_records([invoice("RACE-1")])],
        tier_cutoffs=(0.25, 0.5, 0.75),
    )
    assert len(reads) == 2
    assert result.created == [False]
    assert result.scores[0]["p_late"] == pytest.approx(first["p_late"], abs=1e-12)
    assert prediction_count(served, "RACE-1") == 1


def test_payments_add_up_settle_the_invoice_and_are_counted_once(served: Served) -> None:
    with served.client("billing") as client:
        assert client.post("/v1/invoices", json=invoice("PAY-1")).status_code == 201
        part = {"payment_id": "P-1", "invoice_id": "PAY-1", "paid_date": "2023-06-20"}
        first = client.post("/v1/payments", json={**part, "amount": 500.0})
        again = client.post("/v1/payments", json={**part, "amount": 500.0})
        other = client.post("/v1/payments", json={**part, "amount": 499.0})
        rest = client.post(
            "/v1/payments",
            json=[{"invoice_id": "PAY-1", "paid_date": "2023-07-05", "amount": 700.0}],
        )
        detail = client.get("/v1/invoices/PAY-1").json()
    assert first.status_code == 201
    assert first.json()["invoices"] == [
        {
            "invoice_id": "PAY-1",
            "amount": 1200.0,
            "paid": 500.0,
            "settled_date": None,
            "status": "open",
        }
    ]
    assert again.status_code == 200
    assert again.json()["payments"][0]["created"] is False
    assert again.json()["invoices"][0]["paid"] == 500.0
    assert other.status_code == 409
    assert rest.status_code == 201
    assert rest.json()["payments"][0]["payment_id"].startswith("pay-")
    assert rest.json()["invoices"][0]["settled_date"] == "2023-07-05"
    assert detail["status"] == "settled"
    assert [p["amount"] for p in detail["payments"]] == [500.0, 700.0]


def test_a_payment_for_an_unknown_invoice_stores_nothing(served: Served) -> None:
    with served.client("billing") as client:
        answer = client.post(
            "/v1/payments",
            json=[
                {
                    "payment_id": "P-ORPHAN-1",
                    "invoice_id": "C-UNKNOWN",
                    "paid_date": "2023-07-01",
                    "amount": 10.0,
                },
            ],
        )
    assert answer.status_code == 404
    assert "C-UNKNOWN" in answer.json()["detail"]
    with served.client("collector") as client:
        assert (
            client.post(
                "/v1/payments",
                json={"invoice_id": "PAY-1", "paid_date": "2023-07-01", "amount": 1.0},
            ).status_code
            == 403
        )


def test_collectors_record_promises_and_disputes(served: Served) -> None:
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)).isoformat()
    with served.client("billing") as client:
        assert client.post("/v1/invoices", json=invoice("OUT-1")).status_code == 201
    with served.client("collector") as client:
        promise = client.post(
            "/v1/outcomes",
            json={"invoice_id": "OUT-1", "kind": "promise_to_pay", "promised_date": future},
        )
        past = client.post(
            "/v1/outcomes",
            json={"invoice_id": "OUT-1", "kind": "promise_to_pay", "promised_date": "2020-01-01"},
        )
        vague = client.post("/v1/outcomes", json={"invoice_id": "OUT-1", "kind": "contact"})
        opened = client.post(
            "/v1/outcomes",
            json={"invoice_id": "OUT-1", "kind": "dispute_opened", "note": "wrong quantity"},
        )
        twice = client.post("/v1/outcomes", json={"invoice_id": "OUT-1", "kind": "dispute_opened"})
        resolved = client.post(
            "/v1/outcomes", json={"invoice_id": "OUT-1", "kind": "dispute_resolved"}
        )
        unknown = client.post(
            "/v1/outcomes", json={"invoice_id": "NO-SUCH", "kind": "note", "note": "hello"}
        )
        detail = client.get("/v1/invoices/OUT-1").json()
    with served.client("viewer") as client:
        refused = client.post(
            "/v1/outcomes", json={"invoice_id": "OUT-1", "kind": "note", "note": "x"}
        )
    assert promise.status_code == 201
    assert promise.json()["recorded_by"] == "collector key"
    assert past.status_code == 422 and "promised_date" in past.json()["detail"]
    assert vague.status_code == 422 and "contact_result" in vague.text
    assert opened.status_code == 201 and opened.json()["dispute_id"].startswith("dsp-")
    assert twice.status_code == 409
    assert resolved.json()["dispute_id"] == opened.json()["dispute_id"]
    assert unknown.status_code == 404
    assert refused.status_code == 403
    assert [o["kind"] for o in detail["outcomes"]] == [
        "promise_to_pay",
        "dispute_opened",
        "dispute_resolved",
    ]
    with served.engine.connect() as connection:
        dispute = connection.execute(
            sa.select(Dispute).where(Dispute.dispute_id == opened.json()["dispute_id"])
        ).one()
    assert dispute.opened_date == dispute.resolved_date == dt.datetime.now(dt.UTC).date()
    assert dispute.reason == "wrong quantity"


def test_models_are_listed_and_an_admin_rolls_back(served: Served) -> None:
    registry = ModelRegistry(served.folder / "models", served.engine)
    serving = registry.champion_version()
    spare = registry.register(
        registry.load(serving), data_hash="spare", trained_from=None, trained_to=None, metrics={}
    )
    with served.client("viewer") as client:
        listed = client.get("/v1/models").json()
        refused = client.post(f"/v1/models/{spare}/promote", json={"reason": "try"})
    assert refused.status_code == 403
    by_version = {m["version"]: m for m in listed}
    assert by_version[serving]["status"] == "champion" and by_version[serving]["served"]
    assert by_version[spare]["status"] == "candidate" and not by_version[spare]["served"]
    with served.client("admin") as client:
        promoted = client.post(f"/v1/models/{spare}/promote", json={"reason": "roll forward"})
        unknown = client.post("/v1/models/no-such/promote", json={"reason": "oops"})
        sneaky = client.post("/v1/models/..%2F..%2Fx/promote", json={"reason": "oops"})
        back = client.post(f"/v1/models/{serving}/promote", json={"reason": "roll back"})
    assert promoted.status_code == 200 and promoted.json()["served"] is True
    assert "roll forward" in promoted.json()["decision"]
    assert unknown.status_code == 404 and sneaky.status_code == 404
    assert back.json()["status"] == "champion"
    assert registry.champion_version() == serving
    listed = served.latepay("--json", "models", "list").stdout
    assert json.loads(listed)["models"][0]["version"] in {serving, spare}


def test_drift_is_reported_and_published_in_metrics(served: Served) -> None:
    # Other tests record today's events, which moves the ledger's end to today: the recent
    # window is counted back from that end to the sample's last quarter.
    days = (load_ledger(served.engine).as_of - pd.Timestamp("2023-10-01")).days
    with served.client("viewer") as client:
        report = client.get("/v1/models/drift", params={"days": days})
        bad = client.get("/v1/models/drift", params={"days": 0})
        metrics = client.get("/metrics").text
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["recent_invoices"] > 0 and body["reference_invoices"] > body["recent_invoices"]
    psi = [row["psi"] for row in body["rows"]]
    assert psi == sorted(psi, reverse=True)
    score = next(row for row in body["rows"] if row["kind"] == "score")
    assert f'latepay_drift_psi{{feature="{score["feature"]}",kind="score"}}' in metrics
    assert bad.status_code == 422
