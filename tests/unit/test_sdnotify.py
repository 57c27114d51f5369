"""sd_notify sends its message to $NOTIFY_SOCKET, and nothing without it."""

import socket

from redisrepl.server.sdnotify import sd_notify


def test_sends_datagram_to_notify_socket(tmp_path):
    """READY=1 arrives as one datagram on the socket systemd gave us."""
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        assert sd_notify("READY=1\n", {"NOTIFY_SOCKET": path})
        assert sock.recv(100) == b"READY=1\n"


def test_no_socket_no_notification():
    """Outside systemd sd_notify does nothing and says so."""
    assert sd_notify("READY=1\n", {}) is False
