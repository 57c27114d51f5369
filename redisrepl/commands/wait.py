"""WAIT numreplicas timeout: block until replicas acknowledged our writes.

The waiting itself (acks, timeouts, the once-a-turn recheck) lives in
redisrepl/replication/wait.py; this is the command's argument handling.
"""

from redisrepl.commands.args import parse_int, parse_timeout_ms
from redisrepl.commands.table import command
from redisrepl.resp.values import ReplyError

NOT_ON_REPLICA = ReplyError(
    "ERR WAIT cannot be used with replica instances. Please also note that "
    "since Redis 4.0 if a replica is configured to be writable (which is not "
    "the default) writes to replicas are just local and are not propagated.")
@command("wait")
def wait(client, argv):
    server = client.server
    if server.role_name() != b"master":
        raise NOT_ON_REPLICA
    numreplicas = parse_int(argv[1])
    timeout_ms = parse_timeout_ms(argv[2], server.now_ms())
    return server.guarantees.wait(client, numreplicas, timeout_ms)
