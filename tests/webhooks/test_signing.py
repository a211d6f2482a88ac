import datetime as dt
import hashlib
import hmac

import pytest

from latepay.webhooks import sign, verify

SECRET = "whsec-test-0123456789abcdef"
BODY = '{"id":"e1","type":"invoice.high_risk"}'
SENT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
TIMESTAMP = str(int(SENT.timestamp()))


def header(secret: str = SECRET, timestamp: str = TIMESTAMP, body: str = BODY) -> str:
    return f"sha256={sign(secret, timestamp, body)}"


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{TIMESTAMP}.{BODY}".encode(), hashlib.sha256)
    assert sign(SECRET, TIMESTAMP, BODY) == expected.hexdigest()
    assert sign(SECRET, int(TIMESTAMP), BODY.encode()) == expected.hexdigest()


def test_a_fresh_genuine_request_verifies() -> None:
    arrived = SENT + dt.timedelta(seconds=30)
    assert verify(SECRET, TIMESTAMP, BODY, header(), now=arrived)
    assert verify(SECRET, TIMESTAMP, BODY.encode(), header(), now=arrived)


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        pytest.param(BODY.replace("high_risk", "tier_changed"), header(), id="tampered body"),
        pytest.param(BODY, header(secret="another-secret-0123456789"), id="wrong secret"),
        pytest.param(BODY, sign(SECRET, TIMESTAMP, BODY), id="no sha256= prefix"),
        pytest.param(BODY, "sha256=", id="empty signature"),
        pytest.param(BODY, "sha256=é", id="not hex"),
    ],
)
def test_forged_or_altered_requests_are_rejected(body: str, signature: str) -> None:
    assert not verify(SECRET, TIMESTAMP, body, signature, now=SENT)


@pytest.mark.parametrize("offset", [-301, 301, 3600])
def test_requests_outside_the_tolerance_are_rejected_as_replays(offset: int) -> None:
    assert not verify(SECRET, TIMESTAMP, BODY, header(), now=SENT + dt.timedelta(seconds=offset))


def test_tolerance_is_configurable() -> None:
    an_hour_later = SENT + dt.timedelta(hours=1)
    assert verify(SECRET, TIMESTAMP, BODY, header(), tolerance_seconds=7200, now=an_hour_later)


def test_a_timestamp_that_is_not_a_number_is_rejected() -> None:
    signature = header(timestamp="yesterday")
    assert not verify(SECRET, "yesterday", BODY, signature, now=SENT)


def test_changing_the_timestamp_breaks_the_signature() -> None:
    later = str(int(TIMESTAMP) + 60)
    assert not verify(SECRET, later, BODY, header(), now=SENT)
