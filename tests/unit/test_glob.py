"""redisrepl.glob: Redis's stringmatchlen, quirks included."""

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.glob import glob_match


def reference(pattern: bytes, string: bytes, nocase=False) -> bool:
    """util.c stringmatchlen_impl transcribed as plain recursion, without
    the skipLongerMatches short cut (which only saves time) and without
    the nesting guard: the slow, obviously-faithful twin of glob_match."""

    def at(p):
        return pattern[p] if p < len(pattern) else 0

    def low(c):
        return c + 32 if 65 <= c <= 90 else c

    def sgn(c):
        return c - 256 if c >= 128 else c

    def m(p, s):
        plen = len(pattern) - p
        slen = len(string) - s
        while plen and slen:
            c = pattern[p]
            if c == ord("*"):
                while plen and at(p + 1) == ord("*"):
                    p += 1
                    plen -= 1
                if plen == 1:
                    return True
                while slen:
                    if m(p + 1, s):
                        return True
                    s += 1
                    slen -= 1
                return False
            elif c == ord("?"):
                s += 1
                slen -= 1
            elif c == ord("["):
                p += 1
                plen -= 1
                neg = at(p) == ord("^")
                if neg:
                    p += 1
                    plen -= 1
                match = False
                while True:
                    if at(p) == ord("\\") and plen >= 2:
                        p += 1
                        plen -= 1
                        if pattern[p] == string[s]:
                            match = True
                    elif at(p) == ord("]"):
                        break
                    elif plen == 0:
                        p -= 1
                        plen += 1
                        break
                    elif plen >= 3 and pattern[p + 1] == ord("-"):
                        a, b, x = sgn(pattern[p]), sgn(pattern[p + 2]), sgn(string[s])
                        if a > b:
                            a, b = b, a
                        if nocase:
                            a, b, x = low(a), low(b), low(x)
                        p += 2
                        plen -= 2
                        if a <= x <= b:
                            match = True
                    elif (pattern[p] == string[s] if not nocase
                          else low(pattern[p]) == low(string[s])):
                        match = True
                    p += 1
                    plen -= 1
                if neg:
                    match = not match
                if not match:
                    return False
                s += 1
                slen -= 1
            else:
                if c == ord("\\") and plen >= 2:
                    p += 1
                    plen -= 1
                if (pattern[p] != string[s] if not nocase
                        else low(pattern[p]) != low(string[s])):
                    return False
                s += 1
                slen -= 1
            p += 1
            plen -= 1
            if slen == 0:
                while at(p) == ord("*"):
                    p += 1
                    plen -= 1
                break
        return plen == 0 and slen == 0

    return m(0, 0)


@pytest.mark.parametrize("pattern, string, expected", [
    (b"h?llo", b"hello", True),
    (b"h?llo", b"hllo", False),
    (b"h*llo", b"heeeello", True),
    (b"h*llo", b"hllo", True),
    (b"h[ae]llo", b"hallo", True),
    (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False),
    (b"h[a-b]llo", b"hbllo", True),
    (b"h[b-a]llo", b"hbllo", True),
    (b"h\\*llo", b"h*llo", True),
    (b"h\\*llo", b"hello", False),
    (b"[\\]]", b"]", True),
    (b"[abc", b"b", True),
    (b"[abc", b"d", False),
    (b"[^", b"x", True),
    (b"[", b"[", False),
    (b"[]", b"]", False),
    (b"a\\", b"a\\", True),
    (b"*", b"", False),
    (b"**", b"", False),
    (b"", b"", True),
    (b"a**", b"a", True),
    (b"*a*b*", b"xxaxxbxx", True),
    (b"*a*b*", b"xxbxxaxx", False),
])
def test_examples(pattern, string, expected):
    """Known Redis answers, verified against redis-server 7.0 KEYS."""
    assert glob_match(pattern, string) is expected


def test_lone_star_does_not_match_empty_string():
    """'*' never matches b"" (KEYS special-cases a lone '*' before matching)."""
    assert not glob_match(b"*", b"")
    assert glob_match(b"*", b"x")


def test_nocase_folds_ascii_only():
    """nocase folds A-Z/a-z, in literals, sets and ranges, and nothing else."""
    assert glob_match(b"HeLLo", b"hello", nocase=True)
    assert glob_match(b"h[A-C]llo", b"hbllo", nocase=True)
    assert glob_match(b"[Q]", b"q", nocase=True)
    assert not glob_match(b"HeLLo", b"hello")
    assert not glob_match(b"\xc3\x89", b"\xc3\xa9", nocase=True)


def test_ranges_compare_signed_chars():
    """A range ending in a byte >= 0x80 sorts it below 0x00, as C's char."""
    # [a-\xff] is really [\xff-a]: -1..97, so b"b" (98) is outside.
    assert not glob_match(b"[a-\xff]", b"b")
    assert glob_match(b"[a-\xff]", b"\xff")
    assert glob_match(b"[a-\xff]", b"A")
    assert not glob_match(b"[a-\xff]", b"\x80")


def test_escape_inside_set_is_case_sensitive():
    """An escaped byte in [...] is compared exactly even with nocase."""
    assert not glob_match(b"[\\A]", b"a", nocase=True)
    assert glob_match(b"[\\A]", b"A", nocase=True)


def test_more_than_1000_stars_never_match():
    """Passing a 1001st '*' fails, Redis's guard against abusive patterns."""
    string = b"a" * 1200
    assert glob_match(b"*a" * 999, string)
    assert not glob_match(b"*a" * 1001, string)


def test_long_inputs_are_not_exponential():
    """A pathological pattern on a long string answers at once."""
    assert not glob_match(b"a*" * 30 + b"b", b"a" * 5000)


def test_binary_safe():
    """NUL bytes in pattern and string are ordinary bytes."""
    assert glob_match(b"a\x00*", b"a\x00bc")
    assert not glob_match(b"a\x00", b"a")


_PATTERN_BYTES = st.sampled_from(list(b"ab*?[]^-\\A\x80\xff\x00"))
_STRING_BYTES = st.sampled_from(list(b"abAB-]^[\\*?\x80\xff\x00"))


@settings(max_examples=1500, deadline=None)
@given(st.lists(_PATTERN_BYTES, max_size=8).map(bytes),
       st.lists(_STRING_BYTES, max_size=8).map(bytes), st.booleans())
def test_agrees_with_plain_recursive_transcription(pattern, string, nocase):
    """The iterative matcher equals the straight recursive C transcription."""
    assert glob_match(pattern, string, nocase) == reference(pattern, string, nocase)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list(b"ab*?")), max_size=8).map(bytes),
       st.lists(st.sampled_from(list(b"ab")), min_size=1, max_size=8).map(bytes))
def test_agrees_with_fnmatch_on_simple_patterns(pattern, string):
    """Without [ and \\, on non-empty strings, it is fnmatch's * and ?."""
    expected = fnmatch.fnmatchcase(string.decode(), pattern.decode())
    assert glob_match(pattern, string) == expected
