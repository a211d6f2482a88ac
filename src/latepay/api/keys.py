"""API keys: created with a role, stored only as a SHA-256 hash, revocable.

A key is 32 random bytes (URL-safe text) behind a ``lp_`` prefix. It has full entropy, so a
plain SHA-256 is enough to store it safely (a slow password hash protects guessable secrets,
which these are not) and lets each request be checked with one indexed lookup.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from latepay.db.tables import ApiKey, utcnow
from latepay.errors import InputError, NotFoundError

KEY_PREFIX = "lp_"
SHOWN_PREFIX_LENGTH = 10


class Role(enum.StrEnum):
    ADMIN = "admin"
    BILLING = "billing"  # posts invoices (and payments) from the billing system
    COLLECTOR = "collector"  # works the worklist, records outcomes
    VIEWER = "viewer"  # reads: dashboards, reports


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    role: Role
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(engine: Engine, *, name: str, role: str) -> tuple[str, KeyInfo]:
    """Create a key; the key itself is returned once and never stored."""
    try:
        role = Role(role)
    except ValueError:
        raise InputError(
            f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}"
        ) from None
    if not name.strip():
        raise InputError("a key needs a name that says who or what uses it")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as connection:
        key_id = connection.execute(
            sa.insert(ApiKey)
            .values(
                name=name.strip(),
                role=role.value,
                prefix=key[:SHOWN_PREFIX_LENGTH],
                key_hash=hash_key(key),
                created_at=utcnow(),
            )
            .returning(ApiKey.id)
        ).scalar_one()
    return key, _info(engine, key_id)


def list_keys(engine: Engine) -> list[KeyInfo]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(ApiKey).order_by(ApiKey.id)).mappings()
        return [_key_info(row) for row in rows]


def revoke_key(engine: Engine, key_id: int) -> KeyInfo:
    """Revoke a key; requests with it are refused from then on."""
    with engine.begin() as connection:
        updated = connection.execute(
            sa.update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ).rowcount
    info = _info(engine, key_id)
    if not updated and info.revoked_at is None:
        raise NotFoundError(f"no API key with id {key_id}")
    return info


def role_of_key(engine: Engine, key: str) -> Role | None:
    """The role of an active key, or None for an unknown or revoked one."""
    return role_of_digest(engine, hash_key(key))


def role_of_digest(engine: Engine, digest: str) -> Role | None:
    """The role of the active key whose SHA-256 is ``digest``, or None."""
    with engine.connect() as connection:
        role = connection.scalar(
            sa.select(ApiKey.role).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
        )
    return Role(role) if role else None


def _info(engine: Engine, key_id: int) -> KeyInfo:
    with engine.connect() as connection:
        row = connection.execute(sa.select(ApiKey).where(ApiKey.id == key_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no API key with id {key_id}")
    return _key_info(row)


def _key_info(row) -> KeyInfo:
    return KeyInfo(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
