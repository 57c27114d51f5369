"""Propagation: SELECT when the db changes, MULTI/EXEC around multi-op calls."""

import hiredis

from redisrepl.propagation import CommandStream, Propagator


def decode(data):
    reader = hiredis.Reader()
    reader.feed(data)
    out = []
    while (item := reader.gets()) is not False:
        out.append(item)
    return out


def test_stream_selects_only_when_the_db_changes():
    """A consumer sees SELECT before the first op and at each db change only."""
    chunks = []
    stream = CommandStream(chunks.append)
    stream.feed([(0, [b"SET", b"a", b"1"])])
    stream.feed([(0, [b"SET", b"b", b"2"]), (3, [b"DEL", b"c"])])
    assert decode(b"".join(chunks)) == [
        [b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"],
        [b"SELECT", b"3"], [b"DEL", b"c"]]


def test_force_select_re_emits_select():
    """After force_select the next op is preceded by SELECT again."""
    chunks = []
    stream = CommandStream(chunks.append)
    stream.feed([(1, [b"DEL", b"a"])])
    stream.force_select()
    stream.feed([(1, [b"DEL", b"b"])])
    assert decode(b"".join(chunks)).count([b"SELECT", b"1"]) == 2


def test_several_ops_are_wrapped_in_multi_exec_with_select_inside():
    """Two ops from one command reach consumers as MULTI, SELECT, ops, EXEC."""
    chunks = []
    propagator = Propagator()
    propagator.add(CommandStream(chunks.append))
    propagator.propagate([(2, [b"DEL", b"x"]), (2, [b"SET", b"y", b"1"])])
    assert decode(b"".join(chunks)) == [
        [b"MULTI"], [b"SELECT", b"2"], [b"DEL", b"x"], [b"SET", b"y", b"1"],
        [b"EXEC"]]


def test_one_op_is_not_wrapped():
    """A single op is propagated bare."""
    seen = []

    class Consumer:
        def feed(self, ops):
            seen.extend(ops)

    propagator = Propagator()
    propagator.add(Consumer())
    propagator.propagate([(0, [b"INCR", b"n"])])
    assert seen == [(0, [b"INCR", b"n"])]


def test_transaction_false_sends_ops_bare():
    """Ops of a command that touches arbitrary keys are not wrapped."""
    chunks = []
    propagator = Propagator()
    propagator.add(CommandStream(chunks.append))
    propagator.propagate([(0, [b"DEL", b"a"]), (0, [b"DEL", b"b"])],
                         transaction=False)
    assert decode(b"".join(chunks)) == [
        [b"SELECT", b"0"], [b"DEL", b"a"], [b"DEL", b"b"]]
