"""API keys: shown once, stored as a hash, with a role; revoked keys stop working."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from latepay.api.auth import KeyChecker
from latepay.api.keys import Role, create_key, hash_key, list_keys, revoke_key, role_of_key
from latepay.db.tables import ApiKey
from latepay.errors import InputError, NotFoundError


def test_a_key_is_stored_only_as_its_hash(engine) -> None:
    key, info = create_key(engine, name="billing system", role="billing")
    assert key.startswith("lp_") and len(key) > 40
    with engine.connect() as connection:
        stored = connection.execute(sa.select(ApiKey)).one()
    assert stored.key_hash == hash_key(key)
    assert key not in {str(v) for v in stored._mapping.values()}
    assert info.prefix == key[:10] and info.role is Role.BILLING
    assert role_of_key(engine, key) is Role.BILLING
    assert role_of_key(engine, key + "x") is None


def test_revoking_a_key_refuses_it_and_keeps_it_listed(engine) -> None:
    key, info = create_key(engine, name="old crm", role="viewer")
    revoked = revoke_key(engine, info.id)
    assert revoked.revoked_at is not None
    assert role_of_key(engine, key) is None
    assert [k.id for k in list_keys(engine)] == [info.id]
    assert revoke_key(engine, info.id).revoked_at == revoked.revoked_at  # again: no change
    with pytest.raises(NotFoundError):
        revoke_key(engine, info.id + 1)


@pytest.mark.parametrize(("name", "role"), [("x", "superuser"), ("  ", "viewer")])
def test_bad_key_requests_are_input_errors(engine, name: str, role: str) -> None:
    with pytest.raises(InputError):
        create_key(engine, name=name, role=role)


def test_the_checker_remembers_roles_for_its_time_to_live(sqlite_engine) -> None:
    key, info = create_key(sqlite_engine, name="collector", role="collector")
    checker = KeyChecker(sqlite_engine, ttl=60)
    assert checker.role(key) is Role.COLLECTOR
    revoke_key(sqlite_engine, info.id)
    assert checker.role(key) is Role.COLLECTOR  # remembered
    assert KeyChecker(sqlite_engine, ttl=0).role(key) is None


def test_the_event_loop_hears_remembered_roles_without_a_worker_thread(
    sqlite_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, info = create_key(sqlite_engine, name="billing", role="billing")
    checker = KeyChecker(sqlite_engine, ttl=60)
    assert asyncio.run(checker.role_from_loop(key)) is Role.BILLING  # read in a thread
    assert asyncio.run(checker.role_from_loop("no-such-key")) is None

    def no_thread(*args, **kwargs):
        raise AssertionError("a remembered role was read in a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    revoke_key(sqlite_engine, info.id)
    assert asyncio.run(checker.role_from_loop(key)) is Role.BILLING  # remembered
    assert asyncio.run(checker.role_from_loop("no-such-key")) is None  # remembered too
