"""Capture Redis 7.0's command metadata (COMMAND INFO + COMMAND DOCS) as JSON.

The command table's arity, flags, key positions, ACL categories, tips, key specs
and docs come from the real redis-server so that COMMAND, COMMAND INFO and
COMMAND DOCS (redis-cli reads them at start-up), and the arity errors derived
from them, match Redis byte for byte. Replies are read over RESP3 so the JSON
keeps the reply types: simple strings become {"+": s}, maps {"%": [[k, v], ...]},
sets {"~": [...]}; bulk strings are plain JSON strings.

Usage:
    redis-server --port 7777 &
    python tools/gen_command_table.py 7777 > redisrepl/commands/redis70_commands.json
"""

import json
import re
import socket
import sys


class Resp3Reader:
    """Just enough of a RESP3 reader, keeping the type of every value."""

    def __init__(self, sock):
        self.file = sock.makefile("rb")

    def line(self):
        return self.file.readline()[:-2].decode()

    def read(self):
        kind = self.file.read(1)
        rest = self.line()
        if kind == b"+":
            return {"+": rest}
        if kind == b"-":
            raise RuntimeError(rest)
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"="):
            data = self.file.read(int(rest) + 2)[:-2].decode()
            return data[4:] if kind == b"=" else data  # verbatim: drop "txt:"
        if kind == b"_":
            return None
        if kind in (b"*", b"~"):
            items = [self.read() for _ in range(int(rest))]
            return items if kind == b"*" else {"~": items}
        if kind == b"%":
            return {"%": [[self.read(), self.read()] for _ in range(int(rest))]}
        raise RuntimeError(f"unexpected RESP3 type {kind!r}")


def command(sock, reader, *args):
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    sock.sendall(b"".join(out))
    return reader.read()


def main(port):
    sock = socket.create_connection(("127.0.0.1", port))
    reader = Resp3Reader(sock)
    command(sock, reader, "HELLO", "3")
    info = command(sock, reader, "INFO", "server")
    version = re.search(r"redis_version:(\S+)", info).group(1)
    infos = command(sock, reader, "COMMAND")
    docs = dict(command(sock, reader, "COMMAND", "DOCS")["%"])
    table = {}
    for info in sorted(infos, key=lambda i: i[0]):
        name = info[0]
        table[name] = {"info": info, "docs": docs.get(name)}
    json.dump({"redis_version": version, "commands": table}, sys.stdout,
              indent=None, separators=(",", ":"), sort_keys=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
