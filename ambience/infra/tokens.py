"""The HTTP API's bearer token: where the daemon and the CLI find it, and comparing it.

The daemon uses ``http.token`` from the config (e.g. ``AMBIENCE_HTTP__TOKEN``) if set, else
``<state_dir>/token``, generated at first start with mode 0600. A client uses
``$AMBIENCE_TOKEN``, else the config's token, else that file if it may read it.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

from ambience.config import Config

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
