"""RedisServerFactory: one per listening socket family; builds RedisProtocol."""

import socket

from twisted.internet import address
from twisted.internet.protocol import ServerFactory

from redisrepl.server.protocol import RedisProtocol

# Redis's text for a refused connection in protected mode (networking.c).
PROTECTED_MODE_DENIAL = (
    b"-DENIED Redis is running in protected mode because protected mode is "
    b"enabled and no password is set for the default user. In this mode "
    b"connections are only accepted from the loopback interface. If you want "
    b"to connect from external computers to Redis you may adopt one of the "
    b"following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting "
    b"to Redis from the same host the server is running, however MAKE SURE "
    b"Redis is not publicly accessible from internet if you do so. Use CONFIG "
    b"REWRITE to make this change permanent. 2) Alternatively you can just "
    b"disable the protected mode by editing the Redis configuration file, and "
    b"setting the protected mode option to 'no', and then restarting the "
    b"server. 3) If you started the server manually just for testing, restart "
    b"it with the '--protected-mode no' option. 4) Set up an authentication "
    b"password for the default user. NOTE: You only need to do one of the "
    b"above things in order for the server to start accepting connections from "
    b"the outside.\r\n")


def format_address(addr):
    """Redis's ip:port form (IPv6 in brackets; a unix socket as path:0)."""
    if isinstance(addr, address.UNIXAddress):
        name = addr.name or b""
        if isinstance(name, str):
            name = name.encode()
        return name + b":0"
    host = addr.host
    if ":" in host:
        return b"[%s]:%d" % (host.encode(), addr.port)
    return b"%s:%d" % (host.encode(), addr.port)


class RedisServerFactory(ServerFactory):
    protocol = RedisProtocol
    noisy = False   # the service logs what operators need about listening

    def __init__(self, server):
        self.server = server

    def apply_parser_limits(self, old=None, new=None):
        """CONFIG SET of a request limit reaches every connected client, as
        Redis reads its limits globally on each parse."""
        config = self.server.config
        for client in self.server.clients.values():
            parser = getattr(client.conn, "parser", None)
            if parser is not None:
                parser.max_bulk_len = config["proto-max-bulk-len"]
                parser.max_query_buffer = config["client-query-buffer-limit"]

    def buildProtocol(self, addr):
        proto = self.protocol(self.server)
        proto.factory = self
        return proto

    def describe(self, transport):
        """(peer address, local address, is_unix) of a new connection."""
        peer, host = transport.getPeer(), transport.getHost()
        is_unix = isinstance(host, address.UNIXAddress)
        if is_unix:
            path = self._unix_path()
            return path + b":0", path + b":0", True
        return format_address(peer), format_address(host), False

    def _unix_path(self):
        return self.server.config["unixsocket"].encode()

    def protected_mode_denial(self, transport, is_unix):
        """The DENIED reply if protected mode refuses this peer, else None."""
        server = self.server
        if is_unix or not server.config["protected-mode"] or server.requirepass:
            return None
        host = transport.getPeer().host
        if host in ("127.0.0.1", "::1") or host.startswith("127."):
            return None
        return PROTECTED_MODE_DENIAL

    def configure_socket(self, transport, is_unix):
        if is_unix:
            return
        transport.setTcpNoDelay(True)
        keepalive = self.server.config["tcp-keepalive"]
        if keepalive > 0:
            sock = transport.getHandle()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            # As Redis's anetKeepAlive: probes start after `keepalive` seconds,
            # then every third of it, three of them.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL,
                            max(1, keepalive // 3))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
