"""Replication: the stream and its backlog (sans-IO), the PSYNC decision,
the master side (replica links, full and partial resync, WAIT, FAILOVER)
and the replica side (handshake, payload and stream readers, MasterLink,
the replica role)."""
