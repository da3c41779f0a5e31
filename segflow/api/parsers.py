import codecs
import io

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding

from segflow.json_input import find_unstorable_value

# orjson turns an integer beyond 64 bits into a float, silently, where Python's json keeps an
# int. Integers of up to 18 digits always fit; digits are counted anywhere, strings included.
_LONG_DIGIT_RUN = b"0" * 19
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


class ParsedJSONParser(JSONParser):
    """JSON as parsed, for views that check every value themselves (the events batch, item by
    item, so one bad item does not cost the others).

    orjson parses when it gives what Python's json gives (it is faster: docs/benchmarks.md).
    Whatever orjson refuses goes to Python's json, which words the
    error as before, or accepts what orjson alone refuses (lone surrogates, 1e400, NaN when
    STRICT_JSON is off) for the checks on values to refuse by path. One difference: nesting
    too deep for Python's json here (~900 levels, it depends on the stack) but within orjson's
    1,024 is now read, and refused by the depth checks on values instead."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        encoding = get_encoding(parser_context or {})
        if _orjson_reads_as_json_does(body, encoding):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
        return self._parse_with_json(io.BytesIO(body), media_type, parser_context)

    def _parse_with_json(self, stream, media_type, parser_context):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # Python's decoder recurses per nesting level: thousands of "[" exhaust the stack.
            raise ParseError("JSON parse error - nested too deeply.") from None


def _orjson_reads_as_json_does(body: bytes, encoding: str) -> bool:
    """Whether orjson, if it parses `body`, gives what Python's json gives: orjson reads
    UTF-8 only, and turns integers beyond 64 bits into floats."""
    if codecs.lookup(encoding).name != "utf-8":
        return False
    return _LONG_DIGIT_RUN not in body.translate(_DIGITS_TO_ZERO)


class StorableJSONParser(ParsedJSONParser):
    """JSON whose values can all be stored: no NUL characters, no lone surrogates, no numbers
    beyond a double's range, no deep nesting."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        bad = find_unstorable_value(data)
        if bad is not None:
            where = f" at '{bad}'" if bad else ""
            raise ParseError(
                f"Invalid value{where}: NUL characters, lone surrogates, numbers beyond "
                "±1.8e308 and nesting deeper than 20 levels are not accepted."
            )
        return data
