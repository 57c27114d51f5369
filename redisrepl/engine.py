"""engine.call(): the one path every command takes.

Checks in the order Redis's processCommand makes them (lookup and arity,
authentication, MISCONF after a failed save, -NOREPLICAS while too few
good replicas, -READONLY on a read-only replica, -MASTERDOWN on a replica
with stale data, -LOADING while the dataset loads, client pause; our
master's commands pass every data gate), then the
handler, then propagation: if the handler changed the dataset
(``server.dirty`` moved) its argv -- possibly rewritten by the handler
through ``client.argv`` for determinism, or set to None to propagate
nothing -- joins the ops recorded with ``also_propagate``, and the outermost
call hands them all to the propagator.
"""

from time import perf_counter_ns

from twisted.logger import Logger

from redisrepl import errors
from redisrepl.monitor import feed_monitors
from redisrepl.propagation import ALL
from redisrepl.resp.values import QUEUED, ReplyError

log = Logger()

# Returned instead of a reply: CLIENT PAUSE holds the command; run it again
# once the pause ends.
PAUSED = object()


def call(client, argv):
    """Run one command for ``client``; returns its reply value."""
    server = client.server
    # Exact spelling first (clients send GET or get), then any case.
    cmd = server.commands_by_name.get(argv[0]) or server.table.lookup(argv[0])
    if cmd is None:
        return _reject(client, None, errors.unknown_command(argv))
    argc = len(argv)
    # A container alone (COMMAND) is the container itself; with an argument
    # it is looked up as a subcommand, as Redis's lookupCommand does.
    if cmd.subcommands and argc > 1:
        sub = server.table.lookup_subcommand(cmd, argv[1])
        if sub is None:
            return _reject(client, cmd, errors.unknown_subcommand(argv))
        cmd = sub
    arity = cmd.arity
    if (argc != arity) if arity > 0 else (argc < -arity):
        return _reject(client, cmd, errors.wrong_arity(cmd.fullname))
    if not client.authenticated and not cmd.no_auth:
        return _reject(client, cmd, errors.NOAUTH)
    if client.multi is not None and cmd.no_multi:
        return _reject(client, cmd, errors.NOT_IN_MULTI)
    if server.write_denied is not None and not client.is_master and (
            cmd.is_write or cmd.fullname == "ping" or _exec_of(client, cmd, "is_write")):
        # A failed background save stops writes (and PING, as Redis does).
        return _reject(client, cmd, server.write_denied)
    if server.min_replicas_error is not None and (
            cmd.is_write or _exec_of(client, cmd, "is_write")):
        # min-replicas-to-write: too few good replicas (replication/wait.py).
        return _reject(client, cmd, server.min_replicas_error)
    if server.replica_read_only and not client.is_master and (
            cmd.is_write or _exec_of(client, cmd, "is_write")):
        return _reject(client, cmd, errors.READONLY)
    if client.resp == 2 and not cmd.pubsub_ok and client.subscribed:
        return _reject(client, cmd, errors.pubsub_context(cmd.fullname))
    if server.stale_error is not None and (
            not cmd.stale_ok or _exec_of(client, cmd, "stale_ok", False)):
        # A replica whose master link is down, with replica-serve-stale-data no.
        return _reject(client, cmd, server.stale_error)
    if server.loading and (not cmd.loading_ok or
                           _exec_of(client, cmd, "loading_ok", False)):
        return _reject(client, cmd, errors.LOADING)
    if server.pause_end_ms and not client.is_master and server.is_paused_for(cmd, client):
        return PAUSED
    if client.multi is not None and not cmd.multi_control:
        client.multi.append((cmd, argv))
        return QUEUED
    reply = execute(client, cmd, argv)
    blocking = server.blocking
    if blocking.ready and not server.call_depth:
        # Keys this command filled serve the clients blocked on them.
        blocking.serve_ready()
    return reply


def execute(client, cmd, argv):
    """Run an already-checked command: handler, stats, slowlog, propagation."""
    server = client.server
    client.argv = argv
    client.cmd = cmd
    dirty = server.dirty
    server.call_depth += 1
    start = perf_counter_ns()
    try:
        reply = cmd.handler(client, argv)
    except ReplyError as error:
        reply = error
        cmd.failed_calls += 1
        server.record_error(error)
    except Exception:
        # A bug in a handler must cost one reply, not the server or the
        # connection: log it for the operator and answer an error.
        log.failure("Command {command} failed", command=cmd.fullname)
        reply = ReplyError("ERR internal error running '%s'" % cmd.fullname)
        cmd.failed_calls += 1
        server.record_error(reply)
    finally:
        server.call_depth -= 1
    duration = (perf_counter_ns() - start) // 1000
    cmd.calls += 1
    cmd.usec += duration
    if duration >= server.slowlog_threshold >= 0:
        server.slowlog.record(client, argv, duration, int(server.clock.seconds()))
    if server.monitors:
        feed_monitors(server, client, cmd, argv)
    # With no consumer (no AOF, no replica) nothing is recorded.
    if server.dirty > dirty and client.argv is not None \
            and server.propagator.consumers:
        server.pending_ops.append((client.db.id, client.argv, ALL))
    if server.pending_ops and not server.call_depth:
        offset = server.master_repl_offset
        server.flush_propagation(transaction=not cmd.touches_arbitrary_keys)
        if server.master_repl_offset != offset:
            # What WAIT waits for: the stream up to this write (c->woff).
            client.woff = server.master_repl_offset
    return reply


def _exec_of(client, cmd, flag, wanted=True):
    """True if ``cmd`` is an EXEC whose queue holds a command with ``flag``
    equal to ``wanted`` (Redis's mstate.cmd_flags / cmd_inv_flags)."""
    queued = client.multi
    return bool(queued) and cmd.fullname == "exec" and any(
        getattr(c, flag) == wanted for c, _argv in queued)


def _reject(client, cmd, error):
    """A command refused before running: counted, replied as an error.
    Inside MULTI it also dooms the transaction (EXECABORT); a refused EXEC
    discards it at once, as Redis's execCommandAbort."""
    if client.multi is not None:
        client.multi_error = True
    if cmd is not None:
        cmd.rejected_calls += 1
        if cmd.fullname == "exec":
            error = _exec_abort(client, error)
    client.server.record_error(error)
    return error


def _exec_abort(client, error):
    # Formatted rejections lose their "ERR " (rejectCommandFormat passes
    # the bare text); shared errors keep their code (NOAUTH ...).
    reason = error.message
    if reason.startswith(b"ERR "):
        reason = reason[4:]
    client.multi = None
    client.multi_error = False
    client.server.unwatch_all(client)
    return ReplyError(b"EXECABORT Transaction discarded because of: " + reason)
