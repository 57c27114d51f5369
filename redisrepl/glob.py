"""Redis glob patterns (util.c stringmatchlen), for KEYS, SCAN MATCH,
PSUBSCRIBE and CONFIG GET.

    *        any run of bytes        ?        any one byte
    [abc]    one of                  [^abc]   none of
    [a-z]    a range (ends may be swapped: [z-a] is [a-z])
    \\x       x itself, also inside [...]

Quirks of Redis kept on purpose, because clients can see them:

* A pattern only matches a non-empty part of the string past each step,
  so b"*" does NOT match b"": Redis's KEYS special-cases a lone "*"
  itself ("allkeys") before calling the matcher; callers must too.
* An unclosed "[abc" is the set {a, b, c}; "[^" alone matches any byte.
* Ranges compare bytes as C signed chars (0x80-0xff sort below 0x00), and
  nocase folds ASCII A-Z only.
* A match that has to pass more than 1000 '*' fails (Redis's guard
  against abusive patterns).

The matcher is iterative: Redis's recursion, cut short by its
"skipLongerMatches" flag, only ever resumes at the most recent '*', so one
backtrack point is enough and equal in result.
"""

__all__ = ["glob_match"]

_STAR, _QUESTION, _OPEN, _CLOSE, _BACKSLASH, _CARET, _DASH = (
    ord("*"), ord("?"), ord("["), ord("]"), ord("\\"), ord("^"), ord("-"))

_MAX_NESTING = 1000


def _signed(c):
    return c - 256 if c >= 128 else c


def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


def glob_match(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """True if `string` matches the Redis glob `pattern`."""
    plen, slen = len(pattern), len(string)
    p = s = 0
    stars = 0             # '*' passed so far: Redis's recursion depth
    resume = None         # (p, s, stars) to retry from after a mismatch

    def at(i):
        return pattern[i] if i < plen else 0     # C: the NUL terminator

    while True:
        ok = True
        while p < plen and s < slen:
            c = pattern[p]
            if c == _STAR:
                while at(p + 1) == _STAR:
                    p += 1
                if p == plen - 1:
                    return True
                stars += 1
                if stars > _MAX_NESTING:
                    return False
                resume = (p + 1, s, stars)
                p += 1
                continue
            if c == _QUESTION:
                s += 1
            elif c == _OPEN:
                p += 1
                negate = at(p) == _CARET
                if negate:
                    p += 1
                match = False
                sc = string[s]
                while True:
                    pc = at(p)
                    if pc == _BACKSLASH and plen - p >= 2:
                        p += 1
                        if pattern[p] == sc:
                            match = True
                    elif pc == _CLOSE:
                        break
                    elif p >= plen:
                        p -= 1
                        break
                    elif plen - p >= 3 and pattern[p + 1] == _DASH:
                        lo, hi = _signed(pc), _signed(pattern[p + 2])
                        x = _signed(sc)
                        if lo > hi:
                            lo, hi = hi, lo
                        if nocase:
                            lo, hi, x = _lower(lo), _lower(hi), _lower(x)
                        p += 2
                        if lo <= x <= hi:
                            match = True
                    elif pc == sc or (nocase and _lower(pc) == _lower(sc)):
                        match = True
                    p += 1
                if negate:
                    match = not match
                if not match:
                    ok = False
                    break
                s += 1
            else:
                if c == _BACKSLASH and plen - p >= 2:
                    p += 1
                    c = pattern[p]
                sc = string[s]
                if c != sc and not (nocase and _lower(c) == _lower(sc)):
                    ok = False
                    break
                s += 1
            p += 1
            if s == slen:
                while at(p) == _STAR:
                    p += 1
                break
        if ok and p == plen and s == slen:
            return True
        # This attempt failed: let the most recent '*' swallow one more byte.
        if resume is None:
            return False
        p, s, stars = resume
        s += 1
        if s >= slen:
            return False
        resume = (p, s, stars)
