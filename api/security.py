"""API keys for write and admin calls: kept only as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from pydantic import SecretStr


class ApiKeys:
    def __init__(self, keys: Iterable[SecretStr]) -> None:
        self._digests = [_digest(k.get_secret_value()) for k in keys]

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def accepts(self, given: str | None) -> bool:
        if not given:
            return False
        candidate = _digest(given)
        # compare with every key, always, so the time does not tell which one nearly matched
        matches = [hmac.compare_digest(candidate, d) for d in self._digests]
        return any(matches)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
