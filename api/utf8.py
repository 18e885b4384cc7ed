"""Path and query text that is not UTF-8 is a 422 naming the parameter.

The ASGI server decodes ``%FF`` in a URL with replacement characters, so ``/v1/users/%FF`` and
``/v1/users/%FE`` both reached the service as user "\ufffd": one user for several bad ids, and an
id not returned as it was sent. JSON bodies are refused for the same reason (see ``_storable``
in :mod:`api.schemas`); this does it for the URL, from the bytes the client sent.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import Request
from fastapi.exceptions import RequestValidationError


def _bad(location: str, name: str, raw: str) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": (location, name),
                "msg": "must be valid UTF-8 text once percent-decoded",
                "input": raw,
            }
        ]
    )


def _utf8(raw: str) -> bool:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def require_utf8(request: Request) -> None:
    """Check the raw path segments of the route's parameters and the raw query string."""
    route = request.scope.get("route")
    raw_path = request.scope.get("raw_path")
    if route is not None and raw_path is not None:
        template = route.path_format.split("/")
        sent = raw_path.decode("latin-1").split("/")
        if len(template) == len(sent):  # one segment per parameter (no parameter spans "/")
            for part, raw in zip(template, sent, strict=True):
                if part.startswith("{") and not _utf8(raw):
                    raise _bad("path", part.strip("{}").split(":")[0], raw)
    query = request.scope.get("query_string", b"").decode("latin-1")
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        name, value = name.replace("+", " "), value.replace("+", " ")
        if not _utf8(name):
            raise _bad("query", name, pair)
        if not _utf8(value):
            raise _bad("query", unquote_to_bytes(name).decode("utf-8"), value)
