"""The happy path of the hottest endpoint (the single-event POST) without DRF's machinery.

DRF's Request, authentication classes, content negotiation and renderer are overhead for a
request that stores one event, hundreds of times a second (docs/benchmarks.md). A view's
`dispatch` may first ask `plain_json_body`: it returns the parsed body of the plain case only
(a valid API key, a small JSON body, a response in JSON acceptable, no query string) and None
for anything else, which DRF then serves from the start. Every error answer (401, 400 with
paths, 406, 415) is therefore DRF's own, unchanged; the view only has to render its success
the way DRF would.
"""

import io

import orjson
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import ParseError

from segflow.api.auth import bearer_api_key
from segflow.api.parsers import StorableJSONParser

_PARSER = StorableJSONParser()
_JSON = "application/json"
# Media ranges that DRF's negotiation answers with plain JSON (no parameters such as indent).
_JSON_RANGES = frozenset({"*/*", "application/*", _JSON})
_PLAIN_CONTENT_TYPES = frozenset({_JSON, f"{_JSON};charset=utf-8"})
# Larger bodies take DRF's path, which applies the upload limit and its error.
MAX_BODY_BYTES = 64 * 1024


def plain_json_body(request: HttpRequest) -> object | None:
    """The JSON body of a plain API-key request, or None to let DRF handle the request."""
    meta = request.META
    if meta.get("QUERY_STRING") or not _accepts_plain_json(meta.get("HTTP_ACCEPT", "")):
        return None
    if meta.get("CONTENT_TYPE", "").replace(" ", "").lower() not in _PLAIN_CONTENT_TYPES:
        return None
    length = meta.get("CONTENT_LENGTH", "")
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return None
    if bearer_api_key(request) is None:
        return None
    try:
        return _PARSER.parse(io.BytesIO(request.body))
    except ParseError:  # DRF's path refuses it again, in its words
        return None


def _accepts_plain_json(accept: str) -> bool:
    """No Accept header, or a list of bare media ranges of which one is JSON's (a client's
    `application/json, text/plain, */*`): DRF would pick the JSON renderer as it is."""
    if not accept.strip():
        return True
    ranges = [part.strip().lower() for part in accept.split(",")]
    return all(";" not in r for r in ranges) and not _JSON_RANGES.isdisjoint(ranges)


def json_response(data: object, *, status: int, headers: dict[str, str]) -> HttpResponse:
    """`data` as DRF's JSON renderer writes it (compact, UTF-8) with the view's headers."""
    return HttpResponse(orjson.dumps(data), status=status, content_type=_JSON, headers=headers)
