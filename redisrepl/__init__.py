"""redisrepl: a Redis-compatible server on Twisted built around replication."""

__version__ = "0.1.0"

# The Redis version we speak for: clients and tools (redis-cli, Sentinel,
# redis-py) branch on redis_version, so INFO and HELLO report this one.
REDIS_VERSION = "7.0.15"
