import base64
import json

from latepay.api.keys import hash_key
from latepay.dashboard.session import SessionSigner

SECRET = b"s" * 32


def test_a_cookie_names_the_key_by_its_hash_only_and_expires():
    signer = SessionSigner(SECRET, lifetime_seconds=3600)
    cookie = signer.issue("lp_secret", now=1_000)
    assert "lp_secret" not in cookie
    assert signer.key_digest(cookie, now=1_000) == hash_key("lp_secret")
    assert signer.key_digest(cookie, now=4_599) == hash_key("lp_secret")
    assert signer.key_digest(cookie, now=4_600) is None


def test_a_cookie_signed_under_another_secret_or_edited_is_refused():
    cookie = SessionSigner(SECRET, 3600).issue("lp_secret", now=0)
    assert SessionSigner(b"t" * 32, 3600).key_digest(cookie, now=1) is None
    body, signature = cookie.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["exp"] += 10**9
    longer = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    assert SessionSigner(SECRET, 3600).key_digest(f"{longer}.{signature}", now=1) is None


def test_garbage_is_no_session():
    signer = SessionSigner(SECRET, 3600)
    for cookie in (None, "", "abc", "a.b.c", "!!!.???"):
        assert signer.key_digest(cookie) is None


def test_without_a_secret_each_server_start_signs_with_its_own():
    assert SessionSigner(None, 60).key_digest(SessionSigner(None, 60).issue("lp_x")) is None
