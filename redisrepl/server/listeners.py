"""The listening sockets: every `bind` address on `port`, and `unixsocket`.

A service so they open and close with the daemon, and rebind live when
CONFIG SET changes port, bind or unixsocketperm... as Redis 7.0 does.
"""

import errno
import os
import socket

from twisted.application.service import Service
from twisted.internet.error import CannotListenError
from twisted.logger import Logger

log = Logger()


class ListenError(Exception):
    pass


# A '-' address may be skipped for these: the address or family is not here.
_UNAVAILABLE = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT,
                errno.EINVAL)


def _wildcard(addr):
    return {"*": "0.0.0.0", "::*": "::"}.get(addr, addr)


class ListenerService(Service):
    def __init__(self, server, factory, reactor):
        self.server = server
        self.factory = factory
        self.reactor = reactor
        self.ports = []      # IListeningPort for TCP
        self.unix_port = None

    def startService(self):
        Service.startService(self)
        self.listen_tcp(self.server.config["bind"], self.server.config["port"])
        self.listen_unix()

    def stopService(self):
        Service.stopService(self)
        ports, self.ports = self.ports, []
        for port in ports:
            port.stopListening()
        if self.unix_port is not None:
            self.unix_port.stopListening()
            self.unix_port = None

    def listen_tcp(self, binds, port):
        """Listen on every address; '-' marks one that may be unavailable."""
        if port == 0:
            return []
        backlog = self.server.config["tcp-backlog"]
        opened = []
        for addr in binds:
            optional = addr.startswith("-")
            interface = _wildcard(addr.lstrip("-"))
            try:
                opened.append(self._listen_one(interface, port, backlog))
            except OSError as error:
                if optional and error.errno in _UNAVAILABLE:
                    log.warn("Skipping optional bind address {addr}: {error}",
                             addr=interface, error=error.strerror)
                    continue
                for done in opened:
                    done.stopListening()
                raise ListenError(
                    "Failed listening on port %d (tcp), aborting: %s:%d %s"
                    % (port, interface, port, error.strerror)) from error
        self.ports = opened
        return opened

    def _listen_one(self, interface, port, backlog):
        # Our own socket, handed to the reactor, because an IPv6 socket must
        # be IPV6_V6ONLY (as Redis makes it) for `bind * ::*` to work: Linux
        # would otherwise let "::" claim the IPv4 port too.
        family = socket.AF_INET6 if ":" in interface else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((interface, port))
            sock.listen(backlog)
            sock.setblocking(False)
            return self.reactor.adoptStreamPort(sock.fileno(), family, self.factory)
        finally:
            sock.close()   # the reactor holds its own duplicate

    def rebind_tcp(self, binds, port):
        """Open the new sockets first; keep the old ones if that fails."""
        old = self.ports
        try:
            self.listen_tcp(binds, port)
        except ListenError:
            self.ports = old
            raise
        for listening in old:
            listening.stopListening()
        if self.ports:
            self.server.tcp_port = self.ports[0].getHost().port

    def listen_unix(self):
        path = self.server.config["unixsocket"]
        if not path:
            return
        if os.path.exists(path):
            os.unlink(path)
        mode = self.server.config["unixsocketperm"] or 0o666
        try:
            self.unix_port = self.reactor.listenUNIX(
                path, self.factory, backlog=self.server.config["tcp-backlog"],
                mode=mode)
        except CannotListenError as error:
            raise ListenError("Failed opening Unix socket: %s" % error) from error

    def tcp_addresses(self):
        return [port.getHost() for port in self.ports]
