"""The HTTP API's bearer tokens: the admin token, where the daemon and the CLI find it, and phones' tokens.

The daemon uses ``http.token`` from the config (e.g. ``AMBIENCE_HTTP__TOKEN``) if set, else
``<state_dir>/token``, generated at first start with mode 0600. A client uses
``$AMBIENCE_TOKEN``, else the config's token, else that file if it may read it.

A phone gets a token of its own by pairing (:class:`Pairing`, docs/phone.md): ``ambience pair``
asks the daemon, with the admin token, for a *pairing code* — :data:`CODE_LENGTH` characters of
:data:`CODE_ALPHABET`, single use, valid :data:`PAIRING_FOR` seconds unless asked otherwise, kept
in memory only (a restart voids it). The phone trades it for a *device token*, shown to it once
and stored only as a SHA-256 hash with the phone's id and name; revoking the phone deletes that row,
and its next request is refused. After :data:`WRONG_TRIES` wrong codes every pending code is void,
so guessing one is hopeless (50 bits, five tries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ambience.infra.store import Store

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from ambience.config import Config
from ambience.errors import AmbienceError, StoreError
from ambience.infra.records import Phone

log = logging.getLogger(__name__)

TOKEN_FILE = "token"


def token_path(config: Config) -> Path:
    return config.state_dir / TOKEN_FILE


def _configured(config: Config) -> str | None:
    token = config.http.token
    value = token.get_secret_value().strip() if token is not None else ""
    return value or None


def _read(path: Path) -> str | None:
    """The token in ``path``; None if the file is missing, unreadable or empty."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value or None


def _create(path: Path) -> str:
    """Write a new token into ``path``, readable by its owner only; never overwrites another's."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing = _read(path)
        if existing is not None:
            return existing  # another process was first
        path.unlink()  # an empty file left by a crash
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    log.info("generated the HTTP API token into %s", path)
    return token


def token_for_daemon(config: Config) -> str:
    """The token the daemon accepts: configured, stored, or generated now into the state directory."""
    configured = _configured(config)
    if configured is not None:
        return configured
    path = token_path(config)
    stored = _read(path)
    if stored is None:
        return _create(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); made it owner-only (0600)", path, mode)
        path.chmod(0o600)
    return stored


def token_source(config: Config) -> str:
    """Where the daemon's token comes from, for the log."""
    return "http.token in the config" if _configured(config) else str(token_path(config))


def token_for_client(config: Config) -> str | None:
    """The token a client presents: ``$AMBIENCE_TOKEN``, the config's, or the daemon's file."""
    env = os.environ.get("AMBIENCE_TOKEN", "").strip()
    if env:
        return env
    return _configured(config) or _read(token_path(config))


def check(presented: str | None, expected: str) -> bool:
    """Constant-time comparison; an empty token never matches."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


# ---- phones: pairing codes and device tokens --------------------------------------------------

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""32 letters and digits without 0/O and 1/I, easy to read aloud."""
CODE_LENGTH = 10
PAIRING_FOR = 600.0
"""Seconds a pairing code is valid by default."""
PAIRING_MAX = 3600.0
WRONG_TRIES = 5
"""Wrong codes in a row after which every pending code is void."""
SEEN_EVERY = 60.0
"""Seconds between writes of a phone's ``last_seen`` (a request is not a write)."""
NAME_MAX = 60
ADMIN = "admin"
"""What :meth:`Pairing.who` answers for the admin token."""


class PairingRefused(AmbienceError):
    """A wrong, used or expired pairing code."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_code(text: str) -> str:
    """``abcde-fghjk`` or ``ABCDE FGHJK`` as typed -> ``ABCDEFGHJK``."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def shown_code(code: str) -> str:
    """A code in two halves, for reading: ``ABCDE-FGHJK``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def phone_name(text: object) -> str:
    """The name a phone gave, made safe to store and show: one line, at most :data:`NAME_MAX` characters."""
    name = " ".join("".join(c if c.isprintable() else " " for c in str(text or "")).split())
    return name[:NAME_MAX] or "a phone"


class Pairing:
    """Pending pairing codes (in memory) and the phones they became (in the store); who a token is."""

    def __init__(self, store: Store, admin_token: str, clock: Callable[[], float] = time.time):
        self.store = store
        self.admin_token = admin_token
        self.clock = clock
        self.pending: dict[str, float] = {}
        """Code -> when it expires."""
        self.wrong = 0
        self.seen: dict[str, float] = {}
        """Phone id -> when its last_seen was last written."""
        self.on_revoke: list[Callable[[set[str]], None]] = []
        """Told the ids of revoked phones at once (the event streams they hold are closed)."""

    def issue(self, valid_for: float = PAIRING_FOR) -> tuple[str, float]:
        """A new pairing code and when it expires."""
        if not 0 < valid_for <= PAIRING_MAX:
            raise ValueError(f"a pairing code is valid for more than 0 s and at most {PAIRING_MAX / 60:g} minutes")
        self._expire()
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = self.clock() + valid_for
        self.pending[code] = expires
        self.wrong = 0
        log.info("issued a pairing code, valid for %g s", valid_for)
        return code, expires

    def redeem(self, code: str, name: str) -> tuple[Phone, str]:
        """The new phone and its device token (shown this once), for a pending code; the code is used up."""
        self._expire()
        presented = normalise_code(code)
        match = next((c for c in self.pending if hmac.compare_digest(c, presented)), None)
        if match is None:
            self.wrong += 1
            if self.wrong >= WRONG_TRIES:
                voided = len(self.pending)
                self.pending.clear()
                self.wrong = 0
                log.warning("%d wrong pairing codes in a row: %d pending codes voided", WRONG_TRIES, voided)
            raise PairingRefused(
                "this pairing code is wrong, used or expired; run `ambience pair` for a new one and scan it again"
            )
        del self.pending[match]
        self.wrong = 0
        token = secrets.token_urlsafe(32)
        phone = Phone(id=secrets.token_hex(4), name=phone_name(name), created=self.clock())
        self.store.add_phone(phone, hash_token(token))
        log.info("paired phone %s", phone.id)  # its name is the user's words: not logged
        return phone, token

    def _expire(self) -> None:
        now = self.clock()
        for code in [c for c, until in self.pending.items() if until <= now]:
            del self.pending[code]

    def who(self, presented: str | None) -> str | None:
        """:data:`ADMIN`, a paired phone's id, or None for no or a wrong token."""
        if not presented:
            return None
        if check(presented, self.admin_token):
            return ADMIN
        phone = self.store.phone_with(hash_token(presented))
        if phone is None:
            return None
        now = self.clock()
        if now - self.seen.get(phone.id, phone.last_seen or 0.0) >= SEEN_EVERY:
            self.seen[phone.id] = now
            try:
                self.store.phone_seen(phone.id, now)
            except StoreError as exc:  # a full disk must not lock the phone out
                log.warning("phone %s: %s", phone.id, exc)
        return phone.id

    def revoke(self, phone_id: str) -> list[str]:
        """Revoke one phone (:class:`NotFound` if none has this id); its open event streams end now."""
        self.store.remove_phone(phone_id)
        return self._revoked([phone_id])

    def revoke_all(self) -> list[str]:
        """Revoke every phone; the ids revoked."""
        return self._revoked(self.store.remove_phones())

    def _revoked(self, ids: list[str]) -> list[str]:
        for gone in ids:
            self.seen.pop(gone, None)
        log.info("revoked %d phone(s): %s", len(ids), ", ".join(ids) or "none")
        for listener in self.on_revoke:
            listener(set(ids))
        return ids
