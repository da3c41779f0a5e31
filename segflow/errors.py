"""The one error type every write path raises for bad input, keyed by JSON path."""


class InvalidInput(Exception):
    """Bad client input. `errors` maps a JSON path ("fields.plan", "tags[2]") to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def single(cls, path: str, message: str) -> "InvalidInput":
        return cls({path: [message]})


class ErrorCollector:
    """Collects every error of one input so the client sees them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)
