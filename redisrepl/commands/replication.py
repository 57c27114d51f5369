"""SYNC, PSYNC, REPLCONF and ROLE: what a replica says to its master
(Redis's syncCommand, replconfCommand, roleCommand). The work is in
redisrepl/replication/master.py; here are the arguments and the replies.
"""

from twisted.logger import Logger

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.clients import client_info_line
from redisrepl.commands.table import command
from redisrepl.ctext import split_args
from redisrepl.resp.values import NO_REPLY, OK, ReplyError, Status

log = Logger()

# Redis's NET_HOST_STR_LEN: the longest ip-address REPLCONF takes, plus one.
_NET_HOST_STR_LEN = 256
_SYNC_WHILE_FAILING_OVER = ReplyError("NOMASTERLINK Can't SYNC while failing over")
_RDB_ONLY_RANGE = ReplyError("ERR value is out of range, value must between 0 and 1")


@command("sync")
def sync(client, argv):
    return _sync(client, argv, psync=False)


@command("psync")
def psync(client, argv):
    return _sync(client, argv, psync=True)


def _sync(client, argv, psync):
    master = client.server.repl
    if master.link_of(client) is not None:
        return NO_REPLY                 # already a replica: ignored
    server = client.server
    replica = server.replica
    if psync and len(argv) > 3 and argv[3].lower() == b"failover":
        _failover_request(client, argv[1])
    if master.failover.active:
        # Replicas wait until the failover ended one way or the other.
        raise _SYNC_WHILE_FAILING_OVER
    if replica.active and not replica.connected:
        # A replica serves its own replicas only with its master's history.
        raise errors.NOMASTERLINK
    if _has_pending_replies(client):
        # The stream must start right after +FULLRESYNC / +CONTINUE.
        raise ReplyError("ERR SYNC and PSYNC are invalid with pending output")
    link = master.settings_of(client)
    log.info("Replica {name} asks for synchronization", name=link.name())
    if psync:
        try:
            offset = parse_int(argv[2])
        except ReplyError:
            log.warn("Replica {name} asks for synchronization but with a wrong offset",
                     name=link.name())
            raise
        if master.try_partial(link, argv[1], offset):
            return NO_REPLY
    else:
        link.legacy_sync = True
    master.full_sync(link)
    return NO_REPLY


def _failover_request(client, replid):
    """PSYNC <replid> <offset> FAILOVER from a master handing its role
    over: a replica with that very history becomes master, then answers
    the PSYNC as one (+CONTINUE <newid>)."""
    server = client.server
    log.warn("Failover request received for replid {replid}.",
             replid=replid.decode("latin-1"))
    if not server.replica.active:
        raise ReplyError("ERR PSYNC FAILOVER can't be sent to a master.")
    if replid.lower() != server.replid.lower():
        raise ReplyError("ERR PSYNC FAILOVER replid must match my replid.")
    server.replica.unfollow()
    log.info("MASTER MODE enabled (failover request from '{client}')",
             client=_describe(client))


def _has_pending_replies(client):
    # Replies of the same read batch not yet written (RedisProtocol gathers
    # them); a conn without that notion has none.
    return bool(getattr(client.conn, "_gathering", None))


@command("replconf")
def replconf(client, argv):
    if len(argv) % 2 == 0:
        raise errors.SYNTAX
    master = client.server.repl
    for j in range(1, len(argv), 2):
        option = argv[j].lower()
        value = argv[j + 1]
        if option == b"listening-port":
            master.settings_of(client).listening_port = parse_int(value)
        elif option == b"ip-address":
            if len(value) >= _NET_HOST_STR_LEN:
                raise ReplyError("ERR REPLCONF ip-address provided by replica instance "
                                 "is too long: %d bytes" % len(value))
            master.settings_of(client).ip_address = value
        elif option == b"capa":
            capa = value.lower()       # capabilities we do not know are ignored
            if capa == b"eof":
                master.settings_of(client).capa_eof = True
            elif capa == b"psync2":
                master.settings_of(client).capa_psync2 = True
        elif option == b"ack":
            # No reply, ever; from a client that is not a replica, or with
            # an offset that is not a number, it does nothing.
            link = master.link_of(client)
            if link is not None:
                try:
                    offset = parse_int(value)
                except ReplyError:
                    return NO_REPLY
                master.ack(link, offset)
            return NO_REPLY
        elif option == b"getack":
            # Only a replica answers, and only its master: with an ACK of
            # what it applied before this command.
            if client.is_master:
                client.conn.send_ack()
            return NO_REPLY
        elif option == b"rdb-only":
            try:
                rdb_only = parse_int(value)
            except ReplyError:
                raise errors.NOT_INTEGER from None
            if rdb_only not in (0, 1):
                raise _RDB_ONLY_RANGE
            master.settings_of(client).rdb_only = bool(rdb_only)
        elif option == b"rdb-filter-only":
            _rdb_filter_only(master.settings_of(client), value)
        else:
            raise ReplyError(b"ERR Unrecognized REPLCONF option: " + argv[j])
    return OK


def _rdb_filter_only(link, value):
    """REPLCONF rdb-filter-only "<filters>": the RDB holds no keys, and
    functions only if "functions" is listed ("" gives an empty RDB)."""
    filters = split_args(value)
    if filters is None:
        raise ReplyError("ERR Missing rdb-filter-only values")
    link.rdb_exclude_data = True
    link.rdb_exclude_functions = True
    for name in filters:
        if name.lower() != b"functions":
            raise ReplyError(b"ERR Unsupported rdb-filter-only option: " + name)
        link.rdb_exclude_functions = False


@command("role")
def role(client, argv):
    server = client.server
    if server.replica.active:
        return server.replica.role_reply()
    return server.repl.role_reply()


ALREADY_CONNECTED = Status(b"OK Already connected to specified master")


@command("replicaof")
def replicaof(client, argv):
    return _replicaof(client, argv)


@command("slaveof")
def slaveof(client, argv):
    return _replicaof(client, argv)


def _replicaof(client, argv):
    """replicaofCommand: REPLICAOF host port | NO ONE."""
    server = client.server
    replica = server.replica
    if server.repl.failover.active:
        raise ReplyError("ERR REPLICAOF not allowed while failing over.")
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        if replica.active:
            replica.unfollow()
            log.info("MASTER MODE enabled (user request from '{client}')",
                     client=_describe(client))
        return OK
    if server.repl.link_of(client) is not None:
        # It would be dropped with every replica.
        raise ReplyError("ERR Command is not valid when client is a replica.")
    port = parse_int(argv[2])
    host = argv[1].decode("latin-1")
    if replica.active and replica.host.lower() == host.lower() and replica.port == port:
        log.info("REPLICAOF would result into synchronization with the master we are "
                 "already connected with. No operation performed.")
        return ALREADY_CONNECTED
    replica.follow(host, port)
    log.info("REPLICAOF {host}:{port} enabled (user request from '{client}')",
             host=host, port=port, client=_describe(client))
    return OK


def _describe(client):
    return client_info_line(client, client).decode("latin-1")
