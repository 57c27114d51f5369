"""FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | ABORT: Redis 7.0's
failoverCommand, argument by argument. The failover itself is
redisrepl/replication/failover.py's."""

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.table import command
from redisrepl.replication.failover import FailoverError
from redisrepl.resp.values import OK, ReplyError

NO_FAILOVER = ReplyError("ERR No failover in progress.")
BAD_TIMEOUT = ReplyError("ERR FAILOVER timeout must be greater than 0")


@command("failover")
def failover(client, argv):
    state = client.server.repl.failover
    if len(argv) == 2 and argv[1].lower() == b"abort":
        if not state.active:
            raise NO_FAILOVER
        state.abort("Failover manually aborted")
        return OK
    host, port, timeout_ms, force = _parse(argv)
    try:
        state.start(host, port, timeout_ms, force)
    except FailoverError as error:
        raise ReplyError("ERR " + error.message) from None
    return OK


def _parse(argv):
    """(host or None, port, timeout ms or 0, force), in Redis's loop: each
    option once, TIMEOUT and TO only with their values."""
    timeout_ms, force, host, port = 0, False, None, 0
    j, argc = 1, len(argv)
    while j < argc:
        word = argv[j].lower()
        if word == b"timeout" and j + 1 < argc and timeout_ms == 0:
            timeout_ms = parse_int(argv[j + 1])
            if timeout_ms <= 0:
                raise BAD_TIMEOUT
            j += 1
        elif word == b"to" and j + 2 < argc and host is None:
            port = parse_int(argv[j + 2])
            host = argv[j + 1].decode("latin-1")
            j += 2
        elif word == b"force" and not force:
            force = True
        else:
            raise errors.SYNTAX
        j += 1
    return host, port, timeout_ms, force
