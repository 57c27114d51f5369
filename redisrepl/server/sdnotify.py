"""systemd's sd_notify, as Redis's `supervised systemd`: READY=1 once listening."""

import os
import socket


def sd_notify(message, environ=os.environ):
    """Send ``message`` to $NOTIFY_SOCKET. False when not under systemd."""
    path = environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]   # abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(path)
        sock.sendall(message.encode())
    return True
