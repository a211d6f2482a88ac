"""Dashboard sign-in: an API key is exchanged for a signed, HTTP-only session cookie.

The cookie holds the key's SHA-256 (never the key) and an expiry, signed with HMAC-SHA256
under the server's session secret. Every page re-checks that the key is still active, so a
revoked key ends its sessions within the key cache's few seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from latepay.api.keys import Role, hash_key

COOKIE_NAME = "latepay_session"
# Billing keys belong to machines posting invoices, not to people reading the dashboard.
DASHBOARD_ROLES = frozenset({Role.ADMIN, Role.COLLECTOR, Role.VIEWER})


class SessionSigner:
    """Issues and checks session cookie values."""

    def __init__(self, secret: bytes | None, lifetime_seconds: float) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.lifetime_seconds = lifetime_seconds

    def issue(self, key: str, *, now: float | None = None) -> str:
        """A cookie value for ``key``, valid for the session lifetime."""
        expires = int((time.time() if now is None else now) + self.lifetime_seconds)
        payload = json.dumps({"k": hash_key(key), "exp": expires}, separators=(",", ":"))
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{body}.{self._signature(body)}"

    def key_digest(self, cookie: str | None, *, now: float | None = None) -> str | None:
        """The key digest of a genuine, unexpired cookie; None for anything else."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._signature(body)):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            digest, expires = str(payload["k"]), int(payload["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        return digest if expires > (time.time() if now is None else now) else None

    def _signature(self, body: str) -> str:
        mac = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
