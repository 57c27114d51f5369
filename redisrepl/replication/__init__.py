"""Replication: the stream and its backlog (sans-IO), the PSYNC decision,
the master side (replica links, full and partial resync), and later the
replica side."""
