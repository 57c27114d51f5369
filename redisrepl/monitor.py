"""What MONITOR clients see: every command the server runs, as Redis 7.0's
replicationFeedMonitors shows it.

A line goes out after each command that reached its handler (errors
included; unknown commands and arity errors never get there), with the
database the client is in afterwards (SELECT 5 shows [5 ...]), the
original arguments (not the propagation rewrite), passwords redacted as
Redis redacts them, and admin or skip_monitor commands (CONFIG, DEBUG...)
left out. Commands queued in MULTI show when EXEC
runs them, before the EXEC line itself.
"""

_REDACTED = b"(redacted)"

_ESCAPES = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n",
            ord("\r"): b"\\r", ord("\t"): b"\\t", 7: b"\\a", 8: b"\\b"}
# sdscatrepr: isprint() characters as they are, the rest escaped.
_REPR = [_ESCAPES.get(c, bytes((c,)) if 32 <= c < 127 else b"\\x%02x" % c)
         for c in range(256)]


def quote(arg):
    """sdscatrepr: a double-quoted, escaped copy of ``arg``."""
    return b'"' + b"".join([_REPR[c] for c in arg]) + b'"'


def _redact(fullname, argv):
    """The arguments Redis replaces with (redacted) before feeding them to
    monitors (redactClientCommandArgument in AUTH, HELLO, MIGRATE)."""
    if fullname == "auth":
        return [argv[0]] + [_REDACTED] * (len(argv) - 1)
    if fullname == "hello":
        shown = list(argv)
        for i in range(2, len(argv)):
            if argv[i].lower() == b"auth" and i + 2 < len(argv):
                shown[i + 1] = shown[i + 2] = _REDACTED
        return shown
    if fullname == "migrate":
        shown = list(argv)
        for i in range(6, len(argv)):
            option = argv[i].lower()
            if option == b"auth" and i + 1 < len(argv):
                shown[i + 1] = _REDACTED
            elif option == b"auth2" and i + 2 < len(argv):
                shown[i + 1] = shown[i + 2] = _REDACTED
        return shown
    return argv


def feed_monitors(server, client, cmd, argv):
    """Send one command's line to every MONITOR client."""
    if cmd.admin or "skip_monitor" in cmd.flags:
        return
    now = server.clock.seconds()
    seconds = int(now)
    if client.is_unix:
        origin = b"unix:" + server.config["unixsocket"].encode()
    else:
        origin = client.addr
    line = b"+%d.%06d [%d %s] %s\r\n" % (
        seconds, int((now - seconds) * 1_000_000), client.db.id, origin,
        b" ".join([quote(arg) for arg in _redact(cmd.fullname, argv)]))
    for monitor in server.monitors:
        monitor.send(line)
