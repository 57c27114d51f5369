"""RESP on the wire, independent of the server's own codec.

Tests must not check redisrepl's encoder with redisrepl's encoder, so this
module frames and parses replies on its own: raw reply bytes are compared
verbatim, and parsed into a small tree only where a reply must be normalized
(see tests/interop/corpus/README).
"""

LINE_TYPES = b"+-:_,#("
BULK_TYPES = b"$!="
ARRAY_TYPES = b"*~>"
MAP_TYPES = b"%|"


class Unbalanced(ValueError):
    """An argument line with unbalanced quotes (sdssplitargs returns NULL)."""


def encode_command(args):
    """One request as a RESP multibulk; str arguments are UTF-8 encoded."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t",
            ord("b"): b"\b", ord("a"): b"\a"}
_HEX = b"0123456789abcdefABCDEF"
_SPACE = b" \n\r\t\v\f\0"


def split_args(line):
    """Split a line into arguments exactly as redis-cli's sdssplitargs does:
    "..." with \\n \\r \\t \\b \\a \\xHH escapes, '...' with \\', and a closing
    quote that must be followed by a space or the end of the line."""
    if isinstance(line, str):
        line = line.encode()
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            if in_double:
                if i >= n:
                    raise Unbalanced(line)
                c = line[i]
                if (c == ord("\\") and i + 3 < n and line[i + 1] == ord("x")
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    current.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == ord("\\") and i + 1 < n:
                    i += 1
                    current += _ESCAPES.get(line[i], bytes([line[i]]))
                elif c == ord('"'):
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        raise Unbalanced(line)
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_single:
                if i >= n:
                    raise Unbalanced(line)
                c = line[i]
                if c == ord("\\") and i + 1 < n and line[i + 1] == ord("'"):
                    i += 1
                    current.append(ord("'"))
                elif c == ord("'"):
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        raise Unbalanced(line)
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\0":
                    break
                if c == ord('"'):
                    in_double = True
                elif c == ord("'"):
                    in_single = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))


def reply_end(buf, pos=0):
    """Index just past the one complete reply starting at ``pos``, or None."""
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        return None
    kind = buf[pos]
    after = eol + 2
    if kind in LINE_TYPES:
        return after
    length = int(buf[pos + 1:eol])
    if kind in BULK_TYPES:
        if length < 0:
            return after
        end = after + length + 2
        return end if end <= len(buf) else None
    if kind in ARRAY_TYPES or kind in MAP_TYPES:
        count = length * 2 if kind in MAP_TYPES else length
        for _ in range(max(count, 0)):
            after = reply_end(buf, after)
            if after is None:
                return None
        return after
    raise ValueError(f"not a RESP reply at offset {pos}: {bytes(buf[pos:pos + 40])!r}")


def split_replies(buf):
    """(complete raw replies, number of bytes they take) from the buffer."""
    replies, pos = [], 0
    while pos < len(buf):
        end = reply_end(buf, pos)
        if end is None:
            break
        replies.append(bytes(buf[pos:end]))
        pos = end
    return replies, pos


def parse_reply(raw, pos=0):
    """(tree, end): tree is (type byte, payload); payload is bytes for
    scalars (None for nulls) and a list of trees for aggregates."""
    eol = raw.index(b"\r\n", pos)
    kind = raw[pos]
    head = raw[pos + 1:eol]
    after = eol + 2
    if kind in LINE_TYPES:
        return (kind, head), after
    length = int(head)
    if kind in BULK_TYPES:
        if length < 0:
            return (kind, None), after
        return (kind, raw[after:after + length]), after + length + 2
    if length < 0:
        return (kind, None), after
    count = length * 2 if kind in MAP_TYPES else length
    items = []
    for _ in range(count):
        item, after = parse_reply(raw, after)
        items.append(item)
    return (kind, items), after


def encode_tree(tree):
    """Inverse of parse_reply."""
    kind, payload = tree
    tag = bytes([kind])
    if kind in LINE_TYPES:
        return tag + payload + b"\r\n"
    if payload is None:
        return tag + b"-1\r\n"
    if kind in BULK_TYPES:
        return tag + b"%d\r\n%s\r\n" % (len(payload), payload)
    count = len(payload) // 2 if kind in MAP_TYPES else len(payload)
    return tag + b"%d\r\n" % count + b"".join(encode_tree(t) for t in payload)


def to_python(tree):
    """A parsed reply as plain Python values (for assertions in tests)."""
    kind, payload = tree
    if payload is None:
        return None
    if kind in ARRAY_TYPES or kind in MAP_TYPES:
        return [to_python(t) for t in payload]
    if kind == ord(":"):
        return int(payload)
    return payload
