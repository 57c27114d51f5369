"""What writes propagate, and to whom. Sans-IO.

Handlers never write to the AOF or to replicas. ``engine.call`` records the
ops a command must propagate (its own argv, possibly rewritten for
determinism, plus anything ``Server.also_propagate`` added, such as the DEL of
an expired key) and, once the outermost call returns, hands them to
``Propagator.propagate``: more than one op is wrapped in MULTI/EXEC, and every
consumer (AOF, replication stream) gets the same ops. Each ``CommandStream``
tracks the database its reader has selected, as Redis tracks ``slaveseldb``
and ``aof_selected_db`` separately, and emits SELECT when it changes.
"""

from redisrepl.resp.encoder import encode_command

# Where an op goes (Redis's PROPAGATE_AOF / PROPAGATE_REPL): PUBLISH, for one,
# reaches replicas but not the AOF.
AOF = 1
REPL = 2
ALL = AOF | REPL

_MULTI = [b"MULTI"]
_EXEC = [b"EXEC"]


class CommandStream:
    """Encodes ops for one consumer, inserting SELECT when the db changes.

    ``targets`` says which ops it takes (AOF, REPL).
    """

    def __init__(self, write, targets=ALL):
        self.write = write
        self.targets = targets
        self.selected_db = -1

    def feed(self, ops):
        out = []
        targets = self.targets
        for db_id, argv, op_targets in ops:
            if not op_targets & targets:
                continue
            if db_id != self.selected_db and db_id >= 0:
                out.append(encode_command([b"SELECT", b"%d" % db_id]))
                self.selected_db = db_id
            out.append(encode_command(argv))
        self.write(b"".join(out))

    def force_select(self):
        """The reader's selected db is unknown (e.g. a new replica): re-SELECT."""
        self.selected_db = -1


class Propagator:
    """Fans the ops of every top-level command out to the consumers."""

    def __init__(self):
        self.consumers = []   # objects with .feed(ops)

    def add(self, consumer):
        self.consumers.append(consumer)

    def remove(self, consumer):
        self.consumers.remove(consumer)

    def propagate(self, ops, transaction=True):
        """``ops``: list of (db_id, argv, targets). MULTI/EXEC wraps more
        than one, unless ``transaction`` is False."""
        if not self.consumers:
            return
        if transaction and len(ops) > 1:
            # As Redis's propagatePendingCommands: MULTI takes the first op's
            # db, so a needed SELECT comes before it; EXEC the last op's, so
            # none comes between the last op and EXEC.
            ops = [(ops[0][0], _MULTI, ALL)] + ops + [(ops[-1][0], _EXEC, ALL)]
        for consumer in self.consumers:
            consumer.feed(ops)
