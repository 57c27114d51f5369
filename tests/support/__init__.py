"""Shared test utilities for the integration and interop layers.

- ports:      free loopback ports, IPv6 availability
- wire:       RESP framing of raw replies, redis-cli style argument splitting
- waiting:    await a condition with a bounded deadline on the reactor
- rawclient:  a Twisted client that speaks raw bytes (replies kept verbatim)
- inprocess:  redisrepl's RedisService on the test's reactor, on a free port
- processes:  real redis-server and `twistd -n redisrepl` as subprocesses
"""
