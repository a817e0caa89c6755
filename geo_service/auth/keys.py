"""API keys for scripts: ``gsk_<id>_<secret>``, the secret shown once, only its Argon2 hash stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo_service.auth.errors import InvalidCredentials
from geo_service.auth.principal import Principal, parse_role
from layers.access import ApiKeyRecord
from layers.codes import KONGSBERGREGIONEN
from layers.store import Store

PREFIX = "gsk_"
_KEY = re.compile(r"^gsk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_HASHER = PasswordHasher()  # Argon2id with the library's (RFC 9106 low-memory) parameters
_VERIFIED_SECONDS = 60.0  # a verified secret is trusted this long (revocation is still checked every time)


def looks_like_key(token: str) -> bool:
    """True for strings shaped like our API keys (other bearer tokens are OIDC JWTs)."""
    return token.startswith(PREFIX)


def create_key(store: Store, name: str, role: str, municipalities: list[str],
               expires: datetime | None = None) -> tuple[ApiKeyRecord, str]:
    """Make and store a new key; returns the record and the secret (shown once, never stored)."""
    parsed = parse_role(role)
    codes = tuple(sorted({m.strip() for m in municipalities if m.strip()}))
    unknown = [c for c in codes if c not in KONGSBERGREGIONEN]
    if unknown:
        raise ValueError(f"unknown municipality code(s) {', '.join(unknown)}; use "
                         + ", ".join(f"{c} ({n})" for c, n in KONGSBERGREGIONEN.items()))
    if not name.strip():
        raise ValueError("a key needs a --name saying who or what uses it")
    if expires is not None and expires <= datetime.now(UTC):
        raise ValueError("--expires must be in the future")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKeyRecord(key_id, name.strip(), parsed.value, codes, _HASHER.hash(secret),
                          datetime.now(UTC), expires)
    store.add_api_key(record)
    return record, f"{PREFIX}{key_id}_{secret}"


class KeyVerifier:
    """Checks presented keys against the store; the slow hash check is remembered briefly per secret."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._verified: dict[str, float] = {}  # sha256(key) -> when verified
        self._lock = threading.Lock()

    def principal(self, presented: str) -> Principal:
        """The principal of a valid, unexpired, unrevoked key, or ``InvalidCredentials``."""
        match = _KEY.match(presented.strip())
        if match is None:
            raise InvalidCredentials("malformed API key; keys look like gsk_<id>_<secret> (geo-service keys create)")
        key_id, secret = match.groups()
        record = self._store.get_api_key(key_id)
        if record is None:
            raise InvalidCredentials("unknown API key; ask an administrator for a new one")
        check_usable(record)
        digest = hashlib.sha256(presented.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            seen = self._verified.get(digest)
        if seen is None or now - seen > _VERIFIED_SECONDS:
            try:
                _HASHER.verify(record.secret_hash, secret)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                raise InvalidCredentials("wrong API key secret; ask an administrator for a new key") from None
            with self._lock:
                if len(self._verified) > 10_000:
                    self._verified.clear()
                self._verified[digest] = now
        return key_principal(record)


def check_usable(record: ApiKeyRecord) -> None:
    """Refuse revoked and expired keys."""
    if record.revoked is not None:
        raise InvalidCredentials(f"API key {record.key_id} was revoked on {record.revoked:%Y-%m-%d}")
    if record.expires is not None and record.expires <= datetime.now(UTC):
        raise InvalidCredentials(f"API key {record.key_id} expired on {record.expires:%Y-%m-%d}")


def key_principal(record: ApiKeyRecord) -> Principal:
    """The principal a key stands for."""
    return Principal(f"{record.key_id} ({record.name})", parse_role(record.role), record.municipalities,
                     "key", record.key_id)
