"""A master's full sync without the fork, for tests of the replication
protocol with in-process instances."""

from redisrepl.persistence.snapshot import snapshot_of


class InlineFullSync:
    """Serves a full resync at once: +FULLRESYNC, $<len> and the RDB,
    encoded in-process (stands in for FullSync, which forks)."""

    def __init__(self, instance):
        self.instance = instance

    def want(self, link):
        link.begin_full_sync(self.instance.master_repl_offset)
        rdb = b"".join(snapshot_of(self.instance).chunks())
        # In order with the +FULLRESYNC the PSYNC's batch is still gathering.
        link.send_status(b"$%d\r\n" % len(rdb) + rdb)
        link.payload_done()

    def link_lost(self, link):
        pass

    def cron(self):
        pass
