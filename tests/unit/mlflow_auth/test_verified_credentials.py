"""The per-process record of checked passwords, with werkzeug's real scrypt hashes."""

from __future__ import annotations

import gc
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.security import generate_password_hash

from mlops_stack.mlflow_auth.verified_credentials import VerifiedCredentials

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return generate_password_hash(PASSWORD)


def test_a_password_is_hash_checked_once_per_stored_hash(stored_hash: str) -> None:
    credentials = VerifiedCredentials()
    assert [credentials.verify("alice", stored_hash, PASSWORD) for _ in range(5)] == [True] * 5
    assert credentials.hash_checks == 1


def test_concurrent_first_requests_share_one_check(stored_hash: str) -> None:
    barrier = threading.Barrier(8)
    credentials = VerifiedCredentials()

    def first_request(_: int) -> bool:
        barrier.wait()
        return credentials.verify("alice", stored_hash, PASSWORD)

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(first_request, range(8))) == [True] * 8
    assert credentials.hash_checks == 1


def test_wrong_passwords_pay_the_full_check_every_time(stored_hash: str) -> None:
    credentials = VerifiedCredentials()
    assert credentials.verify("alice", stored_hash, PASSWORD)
    assert [credentials.verify("alice", stored_hash, "guess") for _ in range(3)] == [False] * 3
    assert credentials.hash_checks == 4
    assert credentials.verify("alice", stored_hash, PASSWORD)
    assert credentials.hash_checks == 4


def test_a_new_stored_hash_refuses_the_old_password_at_once(stored_hash: str) -> None:
    credentials = VerifiedCredentials()
    assert credentials.verify("alice", stored_hash, PASSWORD)
    new_hash = generate_password_hash("a new password")
    assert not credentials.verify("alice", new_hash, PASSWORD)
    assert credentials.verify("alice", new_hash, "a new password")
    # The same password stored again gets a new salt: a new hash, checked again.
    assert credentials.verify("alice", generate_password_hash(PASSWORD), PASSWORD)
    assert credentials.hash_checks == 4


def test_the_slot_of_one_user_does_not_admit_another(stored_hash: str) -> None:
    credentials = VerifiedCredentials()
    assert credentials.verify("alice", stored_hash, PASSWORD)
    assert not credentials.verify("mallory", stored_hash, "guess")
    assert credentials.hash_checks == 2


def test_the_record_is_bounded() -> None:
    credentials = VerifiedCredentials(
        check=lambda stored, password: stored == f"hash-of-{password}", max_slots=2
    )
    for user in ("a", "b", "c"):
        assert credentials.verify(user, f"hash-of-{user}", user)
    assert credentials.verify("a", "hash-of-a", "a")
    assert credentials.hash_checks == 4  # "a" fell out and was checked again


def test_nothing_kept_contains_the_password(stored_hash: str) -> None:
    credentials = VerifiedCredentials()
    assert credentials.verify("alice", stored_hash, PASSWORD)
    kept = repr(vars(credentials)).encode() + b"".join(credentials._slots.values())
    assert PASSWORD.encode() not in kept
    # Two processes (two keys) keep different digests of the same password: nothing to precompute.
    other = VerifiedCredentials()
    assert other.verify("alice", stored_hash, PASSWORD)
    assert list(other._slots.values()) != list(credentials._slots.values())
    gc.collect()
