"""What the RDB codec raises."""


class RdbError(Exception):
    """The input is not a valid RDB (or DUMP payload). ``offset`` is the
    position, from the start of the input, of the record that is wrong."""

    def __init__(self, message, offset=None):
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self):
        if self.offset is None:
            return self.message
        return f"{self.message} (at offset {self.offset})"


class Truncated(RdbError):
    """The input ended before the RDB did (a truncated file, a dropped
    link): what a loader reports as a short read."""


class PayloadFooterError(RdbError):
    """A DUMP payload's version is newer than ours or its CRC is wrong
    (RESTORE answers this differently from a bad value)."""


class Incomplete(Exception):
    """More input is needed to decode the record under way. Internal: the
    streaming decoder catches it and waits for the next chunk."""
