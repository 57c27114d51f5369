"""MONITOR: a client that asks sees every command the server runs
(the lines themselves are redisrepl/monitor.py's)."""

from redisrepl.commands.table import command
from redisrepl.resp.values import NO_REPLY, OK, ReplyError

MONITOR_DENY_BLOCKING = ReplyError(
    "ERR MONITOR isn't allowed for DENY BLOCKING client")


@command("monitor")
def monitor(client, argv):
    if client.in_exec:
        # Inside EXEC a client must get one reply per command.
        raise MONITOR_DENY_BLOCKING
    if "S" in client.flags or "O" in client.flags:
        return NO_REPLY     # already a replica or a monitor: ignored
    client.flags += "O"
    client.server.monitors.append(client)
    return OK
