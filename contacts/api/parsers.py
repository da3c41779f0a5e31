from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from contacts.json_input import find_unstorable_string


class StorableJSONParser(JSONParser):
    """JSON whose strings can all be stored: no NUL characters, no lone surrogates."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        bad = find_unstorable_string(data)
        if bad is not None:
            where = f" at '{bad}'" if bad else ""
            raise ParseError(
                f"Invalid string{where}: NUL characters, lone surrogates and nesting deeper "
                "than 20 levels are not accepted."
            )
        return data
