"""The replica's reader of its master's command stream
(redisrepl/replication/masterstream.py): commands cut anywhere come out
whole with their exact wire sizes, take() hands back the exact bytes,
keepalive newlines between commands are skipped, and anything that is not
a command stream raises StreamError."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.replication.masterstream import MasterStream, StreamError


def resp(*args):
    """A command in the canonical multibulk form, written out independently."""
    out = b"*%d\r\n" % len(args)
    for arg in args:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


def drain(stream):
    """Every complete command the stream holds now."""
    commands = []
    while (command := stream.next_command()) is not None:
        commands.append(command)
    return commands


# Arguments with the bytes that matter to a RESP reader: CR, LF, '*', '$', NUL.
args = st.binary(max_size=40) | st.sampled_from([b"", b"\r\n", b"*1\r\n", b"$3", b"\n", b"\0"])
commands = st.lists(st.lists(args, min_size=1, max_size=6), min_size=1, max_size=12)


@st.composite
def wire_and_cuts(draw):
    """(commands, keepalives before each, the wire bytes, chunk cut points)."""
    cmds = draw(commands)
    newlines = draw(st.lists(st.integers(0, 3), min_size=len(cmds), max_size=len(cmds)))
    wire = b"".join(b"\n" * n + resp(*argv) for n, argv in zip(newlines, cmds, strict=True))
    cuts = sorted(draw(st.lists(st.integers(0, len(wire)), max_size=20)))
    return cmds, newlines, wire, cuts


def chunks_of(wire, cuts):
    bounds = [0, *cuts, len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(wire_and_cuts(), st.data())
def test_any_commands_cut_anywhere_come_out_whole_with_exact_sizes(case, data):
    """Canonical commands with keepalives, fed in arbitrary chunks: the same
    argv in order, each size its exact encoding, take() the exact bytes
    (taken per command or several at once, as a MULTI is), keepalives in
    no size but in ``received``."""
    cmds, newlines, wire, cuts = case
    stream = MasterStream()
    got, taken, owed = [], [], 0
    for chunk in chunks_of(wire, cuts):
        stream.feed(chunk)
        for argv, size in drain(stream):
            got.append((argv, size))
            owed += size
            # Take now or keep owing (a transaction's bytes go at EXEC).
            if data.draw(st.booleans(), label="take now"):
                taken.append(stream.take(owed))
                owed = 0
    if owed:
        taken.append(stream.take(owed))
    assert got == [(argv, len(resp(*argv))) for argv in cmds]
    assert b"".join(taken) == b"".join(resp(*argv) for argv in cmds)
    assert stream.received == len(wire)
    assert stream.untaken == 0 and stream.unparsed == 0


def test_partial_command_waits_and_counts_as_unparsed():
    """Half a command yields nothing and shows as unparsed; the rest completes it."""
    stream = MasterStream()
    wire = resp(b"SET", b"k", b"v")
    stream.feed(wire[:9])
    assert stream.next_command() is None
    assert stream.unparsed == 9 and stream.untaken == 9
    stream.feed(wire[9:])
    assert stream.next_command() == ([b"SET", b"k", b"v"], len(wire))
    assert stream.unparsed == 0 and stream.untaken == len(wire)
    assert stream.take(len(wire)) == wire and stream.untaken == 0


def test_keepalives_alone_yield_nothing_and_are_dropped():
    """Only newlines: no command, nothing to take, yet counted as received."""
    stream = MasterStream()
    stream.feed(b"\n\n")
    assert stream.next_command() is None
    stream.feed(b"\n" + resp(b"PING"))
    assert stream.next_command() == ([b"PING"], 14)
    assert stream.take(14) == resp(b"PING")
    assert stream.received == 17


def test_take_past_the_returned_commands_is_refused():
    """take() cannot hand out bytes of a command not yet returned."""
    stream = MasterStream()
    stream.feed(resp(b"PING") + resp(b"PING"))
    assert stream.next_command() == ([b"PING"], 14)
    with pytest.raises(ValueError):
        stream.take(15)
    assert stream.take(14) == resp(b"PING")


@pytest.mark.parametrize("garbage", [
    b"+OK\r\n",                      # a status reply
    b"-ERR nope\r\n",                # an error reply
    b":1\r\n",                       # an integer
    b"$3\r\nfoo\r\n",                # a bulk string, not an array
    b"*0\r\n",                       # an empty command
    b"*-1\r\n",                      # a null array
    b"*1\r\n*1\r\n$1\r\nx\r\n",      # a nested array
    b"*2\r\n$1\r\nx\r\n:5\r\n",      # an integer argument
    b"PING\r\n",                     # an inline command
    b"hello world",                  # garbage
    b"*x\r\n",                       # a bad count
    b"*1\r\n$x\r\n",                 # a bad length
])
def test_anything_but_a_command_raises_stream_error(garbage):
    """Replies, inline commands and garbage are a desynchronised master."""
    stream = MasterStream()
    stream.feed(resp(b"PING") + garbage + resp(b"PING"))
    assert stream.next_command() == ([b"PING"], 14)
    with pytest.raises(StreamError, match="Protocol error from master"):
        stream.next_command()


def test_garbage_after_keepalives_raises():
    """A newline keepalive does not make what follows it acceptable."""
    stream = MasterStream()
    stream.feed(b"\n\n+OK\r\n")
    with pytest.raises(StreamError):
        stream.next_command()


def test_non_canonical_lengths_are_refused():
    """``$04`` is not the canonical form (Redis's string2ll refuses it): the
    size would be miscounted, so the stream is judged desynchronised."""
    stream = MasterStream()
    stream.feed(b"*1\r\n$04\r\nPING\r\n" + resp(b"PING"))
    with pytest.raises(StreamError):
        stream.next_command()
