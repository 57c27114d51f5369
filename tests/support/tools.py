"""What interop tests need of the real Redis 7.0 binaries and of a server
they started: the tool on PATH (or a skip), a plain client, and the INFO
persistence conditions they wait for."""

import shutil

import redis
from twisted.trial import unittest


def require_tool(tool="redis-server"):
    """The tool's path; SkipTest if it is not installed."""
    path = shutil.which(tool)
    if path is None:
        raise unittest.SkipTest(f"{tool} is not on PATH (apt-get install redis-server)")
    return path


def plain_client(port, timeout=120):
    """redis-py, RESP2, replies parsed the usual way."""
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout, protocol=2)


def finished_loading(port):
    """True once the server answers and is no longer loading."""
    try:
        return plain_client(port).info("persistence")["loading"] == 0
    except (redis.BusyLoadingError, redis.ConnectionError):
        return False


def aof_rewrite_idle(port):
    """No AOF rewrite running or scheduled (aof_rewrite_in_progress and
    aof_rewrite_scheduled both 0)."""
    fields = plain_client(port).info("persistence")
    return not fields["aof_rewrite_in_progress"] and not fields["aof_rewrite_scheduled"]
