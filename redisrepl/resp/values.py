"""Reply values: what command handlers return, independent of the wire protocol.

Handlers return plain Python values; the encoder of the client's protocol
(encoder.py: RESP2, or RESP3 after HELLO 3) turns them into bytes:

    value               RESP2                      RESP3
    bytes / bytearray   bulk $                     bulk $
    int                 integer :                  integer :
    None, NULL_ARRAY    null $-1 / *-1             null _
    list                array *                    array *
    Status              simple string +            simple string +
    ReplyError          error -                    error -
    Map                 flat key/value array *     map %
    Set                 array *                    set ~
    Push                array *                    push >
    Verbatim            bulk $                     verbatim =, "txt:" prefixed
    Double              bulk $ ("%.17g", inf)      double ,
    Bool (TRUE, FALSE)  integer :1 / :0            boolean #t / #f
    BigNumber           bulk $                     big number (
    Raw                 sent as is, whatever the protocol

Return the RESP3 type Redis uses (addReplyVerbatim, addReplyMapLen,
addReplySetLen, addReplyDouble, addReplyBool ...): RESP2 clients see no
difference and RESP3 clients get what Redis sends them. A Raw must read the
same in both protocols (+OK, +QUEUED, +PONG); never a Raw null or array.

Keeping replies as values lets unit tests assert on them and lets EXEC collect
them.
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


class Push(list):
    """An out-of-band push (pub/sub messages): an array in RESP2."""

    __slots__ = ()


class Verbatim(bytes):
    """A text for humans (INFO, CLIENT LIST, LATENCY DOCTOR): a bulk string
    in RESP2, a "txt" verbatim string in RESP3 (Redis's addReplyVerbatim)."""

    __slots__ = ()


class Double(float):
    """A floating point reply (Redis's addReplyDouble)."""

    __slots__ = ()


class BigNumber(int):
    """An integer beyond 64 bits (Redis's addReplyBigNum)."""

    __slots__ = ()


class Bool(int):
    """A boolean reply (Redis's addReplyBool); use TRUE and FALSE."""

    __slots__ = ()

    def __repr__(self):
        return "TRUE" if self else "FALSE"


TRUE = Bool(1)
FALSE = Bool(0)


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
