"""Propagation: SELECT when the db changes, MULTI/EXEC around multi-op calls."""

import hiredis

from redisrepl.propagation import ALL, AOF, REPL, CommandStream, Propagator


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
    stream.feed([(0, [b"SET", b"a", b"1"], ALL)])
    stream.feed([(0, [b"SET", b"b", b"2"], ALL), (3, [b"DEL", b"c"], ALL)])
    assert decode(b"".join(chunks)) == [
        [b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"],
        [b"SELECT", b"3"], [b"DEL", b"c"]]


def test_force_select_re_emits_select():
    """After force_select the next op is preceded by SELECT again."""
    chunks = []
    stream = CommandStream(chunks.append)
    stream.feed([(1, [b"DEL", b"a"], ALL)])
    stream.force_select()
    stream.feed([(1, [b"DEL", b"b"], ALL)])
    assert decode(b"".join(chunks)).count([b"SELECT", b"1"]) == 2


def test_several_ops_are_wrapped_in_multi_exec_after_select():
    """Two ops from one command reach consumers as SELECT, MULTI, ops, EXEC:
    MULTI takes the first op's db, as Redis's propagatePendingCommands."""
    chunks = []
    propagator = Propagator()
    propagator.add(CommandStream(chunks.append))
    propagator.propagate([(2, [b"DEL", b"x"], ALL), (2, [b"SET", b"y", b"1"], ALL)])
    assert decode(b"".join(chunks)) == [
        [b"SELECT", b"2"], [b"MULTI"], [b"DEL", b"x"], [b"SET", b"y", b"1"],
        [b"EXEC"]]


def test_one_op_is_not_wrapped():
    """A single op is propagated bare."""
    seen = []

    class Consumer:
        def feed(self, ops):
            seen.extend(ops)

    propagator = Propagator()
    propagator.add(Consumer())
    propagator.propagate([(0, [b"INCR", b"n"], ALL)])
    assert seen == [(0, [b"INCR", b"n"], ALL)]


def test_transaction_false_sends_ops_bare():
    """Ops of a command that touches arbitrary keys are not wrapped."""
    chunks = []
    propagator = Propagator()
    propagator.add(CommandStream(chunks.append))
    propagator.propagate([(0, [b"DEL", b"a"], ALL), (0, [b"DEL", b"b"], ALL)],
                         transaction=False)
    assert decode(b"".join(chunks)) == [
        [b"SELECT", b"0"], [b"DEL", b"a"], [b"DEL", b"b"]]


def test_consumers_take_only_their_targets():
    """A replication-only op (PUBLISH) skips the AOF stream."""
    aof, repl = [], []
    propagator = Propagator()
    propagator.add(CommandStream(aof.append, targets=AOF))
    propagator.add(CommandStream(repl.append, targets=REPL))
    propagator.propagate([(0, [b"PUBLISH", b"c", b"m"], REPL)])
    assert decode(b"".join(aof)) == []
    assert decode(b"".join(repl)) == [[b"SELECT", b"0"], [b"PUBLISH", b"c", b"m"]]
