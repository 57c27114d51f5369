"""Reply values: what command handlers return, independent of the wire protocol.

Handlers return plain Python values and the encoder turns them into RESP:

    bytes / bytearray -> bulk string       int   -> integer
    None              -> null bulk         list  -> array
    Status            -> simple string     Map   -> map (flattened in RESP2)
    ReplyError        -> error             Set   -> set (an array in RESP2)
    Raw               -> bytes already encoded (hot constants such as +OK)
    NULL_ARRAY        -> *-1

Keeping replies as values lets unit tests assert on them and lets EXEC collect
them, and leaves room for RESP3 without touching a handler.
"""


class Status(bytes):
    """A simple string reply (+...)."""

    __slots__ = ()


class Raw(bytes):
    """A reply already encoded as RESP, sent as is."""

    __slots__ = ()


class Map(list):
    """A map reply: a list of (key, value) pairs."""

    __slots__ = ()


class Set(list):
    """A set reply: a list of members."""

    __slots__ = ()


class _NullArray:
    __slots__ = ()

    def __repr__(self):
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()


class _NoReply:
    __slots__ = ()

    def __repr__(self):
        return "NO_REPLY"


# Returned by a handler that sends nothing (CLIENT REPLY OFF/SKIP, SHUTDOWN).
NO_REPLY = _NoReply()


class ReplyError(Exception):
    """An error reply. Raised by handlers; ``message`` has no leading '-'.

    ``message`` starts with the error code (ERR, WRONGTYPE, NOAUTH...), exactly
    as Redis sends it.
    """

    def __init__(self, message):
        if isinstance(message, str):
            message = message.encode()
        # Redis never lets a newline into an error line (afterErrorReply).
        self.message = message.replace(b"\r", b" ").replace(b"\n", b" ")
        super().__init__(self.message)

    def __eq__(self, other):
        return isinstance(other, ReplyError) and other.message == self.message

    def __hash__(self):
        return hash(self.message)

    def __repr__(self):
        return f"ReplyError({self.message!r})"


OK = Raw(b"+OK\r\n")
QUEUED = Raw(b"+QUEUED\r\n")
PONG = Raw(b"+PONG\r\n")
