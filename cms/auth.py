"""Bearer tokens with roles, stored hashed under ``CMS_INSTANCE``.

A token is 32 random bytes (URL-safe base64) behind a prefix: ``cms_<id>_<secret>``. Only a
SHA-256 of the secret is stored (a high-entropy secret needs no slow hash); the presented
secret's hash is compared with ``hmac.compare_digest``.

Every change (``cms tokens create`` or ``revoke``, from any process) reads, changes and replaces
the file under an exclusive ``flock`` on ``tokens.json.lock``, so concurrent changes never lose
one another. Every check reads the file's bytes again (a few hundred bytes a token) and parses
them only when they changed: once a revoke has returned, no worker accepts the token, whatever
the file system's timestamp resolution.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from cms.errors import BadRequest, NotFound

ROLES = ("reader", "editor", "admin")


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    email: str
    role: str
    hash: str
    created_at: str

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def public(self) -> dict[str, str]:
        data = asdict(self)
        del data["hash"]
        return data


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "tokens.json"
        self._lock = threading.Lock()
        self._seen: bytes | None = None
        self._tokens: dict[str, Token] = {}

    def _load(self) -> dict[str, Token]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        with self._lock:
            if data != self._seen:
                raw = json.loads(data.decode("utf-8"))
                self._tokens = {t["id"]: Token(**t) for t in raw.get("tokens", [])}
                self._seen = data
            return self._tokens

    @contextmanager
    def _changing(self) -> Iterator[dict[str, Token]]:
        """The tokens, to change in place and save, with every other change kept out."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path.with_name("tokens.json.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            tokens = dict(self._load())
            yield tokens
            self._save(tokens)
        finally:
            os.close(descriptor)  # releases the lock

    def _save(self, tokens: dict[str, Token]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"tokens": [asdict(t) for t in tokens.values()]}
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def create(self, name: str, role: str, email: str | None = None) -> tuple[Token, str]:
        """A new token and its secret value, which is shown this once and never stored."""
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}")
        if not name.strip():
            raise BadRequest("a token needs a name")
        secret = secrets.token_urlsafe(32)
        with self._changing() as tokens:
            token_id = secrets.token_hex(4)
            while token_id in tokens:
                token_id = secrets.token_hex(4)
            token = Token(
                id=token_id,
                name=name.strip(),
                email=(email or f"{token_id}@tokens.cms.invalid").strip(),
                role=role,
                hash=_digest(secret),
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
            tokens[token_id] = token
        return token, f"cms_{token_id}_{secret}"

    def list(self) -> list[Token]:
        return list(self._load().values())

    def revoke(self, token_id: str) -> Token:
        with self._changing() as tokens:
            if token_id not in tokens:
                raise NotFound(f"no token {token_id!r}")
            return tokens.pop(token_id)

    def check(self, presented: str) -> Token | None:
        """The token a bearer value names, or None. Constant time in the secret."""
        prefix, _, rest = presented.partition("_")
        token_id, _, secret = rest.partition("_")
        token = self._load().get(token_id) if prefix == "cms" else None
        expected = token.hash if token else _digest("")
        matches = hmac.compare_digest(_digest(secret), expected)
        return token if token is not None and matches else None
