"""The deployment checks run offline: every schema comes from an installed package.

Any attempt to open a network connection during these tests fails them (rather than letting a
library quietly fetch a schema, which would pass here and break on an air-gapped CI)."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, *args: object) -> None:
        raise AssertionError(f"tests/deploy must not use the network (connect to {args})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
