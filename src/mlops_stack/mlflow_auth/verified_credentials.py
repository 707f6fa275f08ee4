"""Which (user, stored hash, password) triples this process has already hash-checked successfully.

A slot is (username, stored password hash). It holds HMAC-SHA256(per-process random key, password): enough
to recognise the same password again, useless offline without the key, and never the password. A new
password means a new stored hash (werkzeug salts every hash), so the old slot is simply never asked again;
it ages out of the LRU. Failed checks are never recorded: every wrong guess pays the full hash check.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable

from werkzeug.security import check_password_hash

_logger = logging.getLogger(__name__)

# Far more than a team's users; bounds memory if someone cycles through many accounts.
MAX_SLOTS = 4096


class VerifiedCredentials:
    def __init__(self, check: Callable[[str, str], bool] = check_password_hash, max_slots: int = MAX_SLOTS):
        self._check = check
        self._max_slots = max_slots
        self._key = secrets.token_bytes(32)
        self._slots: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        # Flask handlers run in a thread pool: every touch of the dict holds the lock.
        self._lock = threading.Lock()
        self._checking: dict[tuple[str, str], threading.Lock] = {}
        self.hash_checks = 0

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    def _known(self, slot: tuple[str, str], digest: bytes) -> bool:
        with self._lock:
            known = self._slots.get(slot)
            if known is not None:
                self._slots.move_to_end(slot)
        return known is not None and hmac.compare_digest(known, digest)

    def _slot_lock(self, slot: tuple[str, str]) -> threading.Lock:
        with self._lock:
            if len(self._checking) > 2 * self._max_slots:  # slots whose checks failed and were never filled
                self._checking = {k: v for k, v in self._checking.items() if k in self._slots or v.locked()}
            return self._checking.setdefault(slot, threading.Lock())

    def verify(self, username: str, stored_hash: str, password: str) -> bool:
        """True when `password` matches `stored_hash`; the slow hash check runs only the first time."""
        slot = (username, stored_hash)
        digest = self._digest(password)
        if self._known(slot, digest):
            return True
        # One check per slot at a time: concurrent first requests of one credential wait for the first
        # check instead of repeating it (checks of different credentials still run in parallel).
        with self._slot_lock(slot):
            if self._known(slot, digest):
                return True
            with self._lock:
                self.hash_checks += 1
            if not self._check(stored_hash, password):
                _logger.warning("refused user %r: wrong password (pid %d)", username, os.getpid())
                return False
            _logger.info(
                "user %r: password hash checked (pid %d); same password, same hash: no check again",
                username,
                os.getpid(),
            )
            with self._lock:
                self._slots[slot] = digest
                while len(self._slots) > self._max_slots:
                    evicted, _ = self._slots.popitem(last=False)
                    self._checking.pop(evicted, None)
        return True
