from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from contacts.json_input import find_unstorable_value


class ParsedJSONParser(JSONParser):
    """JSON as parsed, for views that check every value themselves (the events batch, item by
    item, so one bad item does not cost the others)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # Python's decoder recurses per nesting level: thousands of "[" exhaust the stack.
            raise ParseError("JSON parse error - nested too deeply.") from None


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
