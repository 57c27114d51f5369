"""redisrepl.ctext: Redis's string2ll and sdssplitargs, ported once."""

from hypothesis import given
from hypothesis import strategies as st

from redisrepl.ctext import split_args, string2ll


def reference_string2ll(text):
    """Redis's rule, spelled out: optional '-', digits, no leading zero, int64."""
    body = text[1:] if text[:1] == b"-" else text
    if not body or not body.isdigit() or (body[0] == 48 and text != b"0"):
        return None
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 63) else None


@given(st.one_of(
    st.integers(min_value=-(1 << 64), max_value=1 << 64).map(lambda n: b"%d" % n),
    st.binary(max_size=22),
    st.from_regex(rb"\A[-+ 0]?[0-9_ ]{0,21}\Z"),
))
def test_string2ll_matches_redis_rule(text):
    """Only canonical int64 decimal parses; everything else is None."""
    assert string2ll(text) == reference_string2ll(text)


def test_string2ll_edges():
    """The int64 bounds parse; one past them, '-0', '+1' and ' 1' do not."""
    assert string2ll(b"9223372036854775807") == (1 << 63) - 1
    assert string2ll(b"-9223372036854775808") == -(1 << 63)
    assert string2ll(b"9223372036854775808") is None
    for bad in (b"-0", b"+1", b" 1", b"01", b"", b"1_0", b"-"):
        assert string2ll(bad) is None


def test_split_args_fast_and_slow_paths_agree():
    """Plain lines take str.split; quotes, \\v and NUL take sdssplitargs."""
    assert split_args(b"  set  k  v ") == [b"set", b"k", b"v"]
    assert split_args(b'set "a b" \'c\'') == [b"set", b"a b", b"c"]
    assert split_args(b"a\vb c") == [b"a\vb", b"c"]
    assert split_args(b"a b\0c d") == [b"a", b"b"]
    assert split_args(b'"unbalanced') is None
