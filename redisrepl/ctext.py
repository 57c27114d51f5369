"""Redis's C text helpers, ported once: every part of the server that reads
words or integers the way Redis does uses these.

    split_args   sdssplitargs   inline commands and redis.conf lines
    string2ll    string2ll      strict integers: the canonical decimal only
"""

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_INT_FIRST = frozenset(b"-123456789")

_C_SPACE = frozenset(b" \t\n\v\f\r")  # isspace() in the C locale
_WORD_END = frozenset(b" \n\r\t")      # fewer than isspace(): \v \f stay in a word
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


def string2ll(text):
    """The int ``text`` spells, or None unless it is canonical int64 decimal.

    int() also takes '+', blanks, '_' and leading zeros; Redis does not, so
    only text that prints back unchanged is accepted.
    """
    size = len(text)
    # Fast path (counters): ASCII digits, no leading zero, under 19 digits,
    # so always within int64. isdigit() on bytes is ASCII-only.
    if 0 < size < 19 and text.isdigit() and (text[0] != 48 or size == 1):
        return int(text)
    if not 0 < size < 21 or text[0] not in _INT_FIRST:
        return None     # cheaper than int() raising, for keys like b"key:1"
    try:
        value = int(text)
    except ValueError:
        return None
    if b"%d" % value != text or not _INT64_MIN <= value <= _INT64_MAX:
        return None
    return value


def split_args(line):
    """sdssplitargs: the words of one line, or None for unbalanced quotes.

    Outside quotes a word ends at space, tab, CR or LF. Inside "..." the
    escapes \\xHH, \\n, \\r, \\t, \\b, \\a and \\<any> apply; inside '...' only
    \\' does. A closing quote must be followed by a blank or the end. A quote
    may open mid-word: foo"bar baz" is one word. As C, a NUL ends the line.
    """
    if not any(c in line for c in (b'"', b"'", b"\v", b"\f", b"\0")):
        return line.split()  # the same rule when nothing special is present
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    n, i, words = len(line), 0, []
    while True:
        while i < n and line[i] in _C_SPACE:
            i += 1
        if i >= n:
            return words
        word, in_double, in_single = bytearray(), False, False
        while True:
            c = line[i] if i < n else 0  # 0: the C string's terminator
            nxt = line[i + 1] if i + 1 < n else 0
            if in_double:
                if (c == 92 and nxt == 120 and i + 3 < n
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    word.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and nxt:
                    i += 1
                    word.append(_ESCAPES.get(nxt, nxt))
                elif c == 34:
                    if nxt and nxt not in _C_SPACE:
                        return None
                    break
                elif not c:
                    return None
                else:
                    word.append(c)
            elif in_single:
                if c == 92 and nxt == 39:
                    i += 1
                    word.append(39)
                elif c == 39:
                    if nxt and nxt not in _C_SPACE:
                        return None
                    break
                elif not c:
                    return None
                else:
                    word.append(c)
            elif not c or c in _WORD_END:
                break
            elif c == 34:
                in_double = True
            elif c == 39:
                in_single = True
            else:
                word.append(c)
            i += 1
        i += 1  # past the closing quote or the separator
        words.append(bytes(word))


def atoll(text):
    """C's atoll/strtol(.., 10) with the end ignored: leading blanks, a sign,
    then the digits up to the first non-digit; no digits is 0. Saturates at
    int64 as glibc does. For lenient fields (the AOF's *N / $N lines, the
    manifest's seq)."""
    i, n = 0, len(text)
    while i < n and text[i] in _C_SPACE:
        i += 1
    negative = i < n and text[i] == 0x2D
    if i < n and text[i] in b"+-":
        i += 1
    start = i
    while i < n and 0x30 <= text[i] <= 0x39:
        i += 1
    if i == start:
        return 0
    value = int(text[start:i])
    return max(_INT64_MIN, -value) if negative else min(value, _INT64_MAX)
