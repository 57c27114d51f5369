"""Full resynchronization: the background saves that feed replicas their
RDB (Redis 7.0's syncCommand attach rules, startBgsaveForReplication,
updateSlavesWaitingBgsave, shouldStartChildForReplication).

Theory of operation. ``want(link)`` gets every replica that needs a full
resync (its link is in ``wait_bgsave``). Then, as Redis:

- A save with **disk** target started for replication is running: the link
  attaches to it when it has at least the capabilities of a replica already
  served by it, sharing that replica's start offset and copying its
  buffered stream ("Waiting for end of BGSAVE for SYNC"). Otherwise (a
  user's BGSAVE, or a **diskless** save, whose bytes already went out) it
  waits for the next save.
- No child runs: a save starts now, unless diskless sync is on, the
  replica can take it and ``repl-diskless-sync-delay`` asks to wait for
  more replicas; ``cron()`` starts it when the longest-idle waiting
  replica has waited that long, or ``repl-diskless-sync-max-replicas``
  are waiting. A save also starts as soon as any child ends.
- The target is diskless when ``repl-diskless-sync`` is on and every
  waiting replica announced ``capa eof``; else disk (a BGSAVE writing the
  dump file). One save serves every replica waiting when it forks: at the
  fork each link gets ``begin_full_sync(master_repl_offset)``
  (+FULLRESYNC; from then on the link keeps the stream).
- Disk: when the child has succeeded, each link is sent ``$<len>\\r\\n``
  and the file by its own pull producer (transfer.BulkFileSender), then
  ``payload_done()``. A failed save drops the links it served.
- Diskless: the child streams ``$EOF:<mark>\\r\\n`` RDB ``<mark>`` into a pipe
  (rdbpipe.py); the parent fans it out (transfer.Fanout), reading the pipe
  only while no replica transport is paused. When the child has been
  reaped successfully each link is put online with the stream held until
  its first REPLCONF ACK. A replica whose connection goes away mid-payload
  is forgotten; when none is left the child is killed. One that keeps the
  pipe paused longer than ``repl-timeout`` is dropped.

``link_lost(link)`` is called by the master for every link that goes away.
INFO fields: none here (the master renders the link states).
"""

import os

from twisted.internet.interfaces import IReactorFDSet
from twisted.logger import Logger

from redisrepl.replication.link import SEND_BULK, SEND_BULK_WAIT, WAIT_BGSAVE
from redisrepl.replication.rdbpipe import PipeFds, new_eof_mark, pipe_body
from redisrepl.replication.transfer import BulkFileSender, Fanout, PipeReader

log = Logger()

BGSAVE_FAILED = b"-ERR BGSAVE failed, replication can't continue\r\n"


class DiskSave:
    """A BGSAVE to the dump file that serves replicas."""

    diskless = False

    def __init__(self, links):
        self.links = list(links)

    def served(self):
        """The links still waiting for this save's end."""
        return [link for link in self.links
                if link.state == SEND_BULK_WAIT and not link.dropped]

    def forget(self, link):
        if link in self.links:
            self.links.remove(link)


class DisklessSave:
    """A child streaming the RDB through a pipe to the replicas' sockets."""

    diskless = True

    def __init__(self, fullsync, links, fds, pid):
        self.fullsync = fullsync
        self.fds = fds
        self.pid = pid
        self.read_all = False     # the pipe reached its end
        self.killed = False       # the child was told to stop
        self.reader = PipeReader(fullsync.reactor, fds.data_read, self)
        self.fanout = Fanout(links, self.reader, fullsync.instance.clock,
                             on_lost=fullsync._lost_mid_payload,
                             on_sent=fullsync._count_sent)

    @property
    def links(self):
        return self.fanout.links

    def served(self):
        return [link for link in self.fanout.links if not link.dropped]

    def forget(self, link):
        self.fanout.release(link)

    # -- the pipe reader's sink -----------------------------------------------------

    def data(self, chunk):
        self.fanout.data(chunk)

    def eof(self):
        self.read_all = True
        log.warn("Diskless rdb transfer, done reading from pipe, {count} replicas "  # noqa: G010
                 "still up.", count=len(self.served()))
        # Now the child may exit: its end means the transfer is complete.
        self.close_exit_pipe()

    def read_error(self, reason):
        log.warn("Diskless rdb transfer, read error sending DB to replicas: "  # noqa: G010
                 "{reason}", reason=reason)
        self.killed = True        # dropping the links must not kill it twice
        for link in self.served():
            self.fanout.release(link)
            link.drop(None)
        self.close()
        self.fullsync.persistence.kill_child()

    # -- cleaning up ------------------------------------------------------------------

    def close_exit_pipe(self):
        fd, self.fds.exit_write = self.fds.exit_write, -1
        if fd >= 0:
            _close(fd)

    def close(self):
        self.reader.close()
        self.close_exit_pipe()


class FullSync:
    def __init__(self, master, reactor=None):
        self.master = master
        self.instance = master.instance
        self.config = self.instance.config
        self.persistence = self.instance.persistence
        self._reactor = reactor
        self.save = None           # the DiskSave / DisklessSave whose child runs
        self.senders = {}          # link -> BulkFileSender (disk payloads going out)
        # Redis's RDBGeneratedByReplication (rdb-del-sync-files).
        self.rdb_generated = False
        self.persistence.on_bgsave_done.append(self._child_done)

    @property
    def reactor(self):
        """Where the diskless pipe is watched: the instance's clock when it
        is a reactor (production), else the global reactor."""
        if self._reactor is None:
            clock = self.instance.clock
            if IReactorFDSet.providedBy(clock):
                self._reactor = clock
            else:
                from twisted.internet import reactor
                self._reactor = reactor
        return self._reactor

    @reactor.setter
    def reactor(self, value):
        self._reactor = value

    @property
    def diskless_in_progress(self):
        """A diskless transfer is running (Redis's rdb_child_type SOCKET)."""
        return self.save is not None and self.save.diskless

    # -- a replica wants a full resync ------------------------------------------------

    def want(self, link):
        """syncCommand's choice for a link just put in ``wait_bgsave``."""
        if self.persistence.bgsave_in_progress:
            save = self.save
            if save is not None and save.diskless:
                log.info("Current BGSAVE has socket target. Waiting for next BGSAVE "
                         "for SYNC")
                return
            peer = _attachable_peer(save, link) if save is not None else None
            if peer is None:
                log.info("Can't attach the replica to the current BGSAVE. Waiting for "
                         "next BGSAVE for SYNC")
                return
            link.begin_full_sync(peer.psync_initial_offset,
                                 copy_from=None if link.rdb_only else peer)
            save.links.append(link)
            log.info("Waiting for end of BGSAVE for SYNC")
            return
        config = self.config
        if config["repl-diskless-sync"] and link.capa_eof \
                and config["repl-diskless-sync-delay"]:
            log.info("Delay next BGSAVE for diskless SYNC")
            return
        if self.persistence.child is not None:
            # An AOF rewrite: the save starts once it is reaped (_child_done).
            log.info("No BGSAVE in progress, but another BG operation is active. "
                     "BGSAVE for replication delayed")
            return
        self.start()

    def waiting(self):
        """Links waiting for a save to start, in arrival order: those that
        want the same RDB as the first (rdb-filter-only), as Redis serves
        one replica requirement a save."""
        links = [link for link in self.master.links
                 if link.state == WAIT_BGSAVE and not link.dropped]
        if links:
            wanted = _rdb_filter(links[0])
            links = [link for link in links if _rdb_filter(link) == wanted]
        return links

    def should_start(self):
        """shouldStartChildForReplication: a save for the waiting replicas
        may start now."""
        if self.persistence.child is not None:
            return False
        waiting = self.waiting()
        if not waiting:
            return False
        config = self.config
        if not config["repl-diskless-sync"]:
            return True
        max_replicas = config["repl-diskless-sync-max-replicas"]
        if max_replicas > 0 and len(waiting) >= max_replicas:
            return True
        now_s = int(self.instance.clock.seconds())
        max_idle = max(now_s - link.client.last_interaction_ms // 1000 for link in waiting)
        return max_idle >= config["repl-diskless-sync-delay"]

    def start(self):
        """startBgsaveForReplication for every waiting link. False (the links
        refused and closed) if the save could not start."""
        waiting = self.waiting()
        if not waiting or self.persistence.child is not None:
            return False
        # A filtered RDB is never written as the dump: always to sockets.
        filtered = any(_rdb_filter(waiting[0]))
        socket_target = (self.config["repl-diskless-sync"] or filtered) and \
            all(link.capa_eof for link in waiting)
        log.info("Starting BGSAVE for SYNC with target: {target}",
                 target="replicas sockets" if socket_target else "disk")
        if self.master.rdb_save_info() is None:
            log.warn("BGSAVE for replication: replication information not "  # noqa: G010
                     "available, can't generate the RDB file right now. Try later.")
            started = False
        elif socket_target:
            started = self._start_diskless(waiting)
        else:
            started = self._start_disk(waiting)
        if not started:
            log.warn("BGSAVE for replication failed")  # noqa: G010
            for link in waiting:
                if link.state == WAIT_BGSAVE and not link.dropped:
                    link.client.conn.send(BGSAVE_FAILED)
                    link.drop(None, graceful=True)
        return started

    def _start_disk(self, links):
        if not self.persistence.bgsave():
            return False
        offset = self.instance.master_repl_offset
        for link in links:
            link.begin_full_sync(offset)
        self.save = DiskSave(links)
        if self.config["rdb-del-sync-files"]:
            self.rdb_generated = True
        return True

    def _start_diskless(self, links):
        fds = PipeFds()
        exclude_data, exclude_functions = _rdb_filter(links[0])
        pid = self.persistence.bgsave_to_pipe(
            pipe_body(fds, new_eof_mark()), exclude_data=exclude_data,
            exclude_functions=exclude_functions)
        if pid is None:
            fds.close_all()
            return False
        fds.close_child_side()
        # Nothing ran since the fork: the offset is the snapshot's.
        offset = self.instance.master_repl_offset
        for link in links:
            link.diskless = True
            link.begin_full_sync(offset)
        log.info("Background RDB transfer started by pid {pid}", pid=pid)
        save = self.save = DisklessSave(self, links, fds, pid)
        if not save.fanout.outlets:
            # Every connection vanished already (the fan-out said so).
            self._kill_orphan_child()
            return True
        save.reader.start()
        return True

    # -- the child ended ---------------------------------------------------------------

    def _child_done(self, ok):
        """updateSlavesWaitingBgsave, then replicationStartPendingFork."""
        save, self.save = self.save, None
        if save is not None:
            if save.diskless:
                self._diskless_done(save, ok)
            else:
                self._disk_done(save, ok)
        if self.should_start():
            self.start()

    def _disk_done(self, save, ok):
        for link in save.served():
            if not ok:
                link.drop("SYNC failed. BGSAVE child returned an error")
                continue
            try:
                dump = open(self.persistence.filename, "rb")  # noqa: SIM115 -- the sender closes it
                size = os.fstat(dump.fileno()).st_size
            except OSError as error:
                link.drop("SYNC failed. Can't open/stat DB after BGSAVE: "
                          f"{error.strerror or error}")
                continue
            self._send_file(link, dump, size)

    def _send_file(self, link, dump, size):
        link.state = SEND_BULK
        sender = BulkFileSender(
            link.client.conn.transport, dump, size,
            on_done=lambda: self._file_sent(link),
            on_error=lambda reason: self._file_failed(link, reason),
            on_stopped=lambda: self.senders.pop(link, None),
            on_sent=self._count_sent)
        self.senders[link] = sender
        sender.start()

    def _file_sent(self, link):
        self.senders.pop(link, None)
        link.payload_done()

    def _file_failed(self, link, reason):
        self.senders.pop(link, None)
        link.drop(f"Read error sending DB to replica: {reason}")

    def _diskless_done(self, save, ok):
        save.close()
        # The child only exits on its own once the whole pipe was read.
        ok = ok and save.read_all
        for link in save.served():
            save.fanout.release(link)
            if not ok:
                link.drop("SYNC failed. BGSAVE child returned an error")
                continue
            log.info("Streamed RDB transfer with replica {name} succeeded (socket). "
                     "Waiting for REPLCONF ACK from slave to enable streaming",
                     name=link.name())
            # No byte may follow the EOF mark in the replica's read: the
            # stream waits for its first ACK (repl_start_cmd_stream_on_ack).
            link.payload_done(stream_on_ack=True)
        save.fanout.release_all()

    # -- replicas going away -------------------------------------------------------------

    def link_lost(self, link):
        """The master forgot ``link`` (dropped, or its connection closed)."""
        sender = self.senders.pop(link, None)
        if sender is not None:
            sender.abort()
        save = self.save
        if save is None:
            return
        save.forget(link)
        if save.diskless and not save.read_all and not save.fanout.outlets:
            self._kill_orphan_child()

    def _lost_mid_payload(self, link):
        """A transport fed by the pipe lost its connection."""
        save = self.save
        if save is not None and save.diskless and not save.read_all and not save.fanout.outlets:
            self._kill_orphan_child()

    def _kill_orphan_child(self):
        save = self.save
        if save is None or save.read_all or save.killed or self.persistence.child is None:
            return
        save.killed = True
        log.warn("Diskless rdb transfer, last replica dropped, killing fork child.")  # noqa: G010
        save.close()
        self.persistence.kill_child()

    def _count_sent(self, nbytes):
        self.instance.net_repl_output_bytes += nbytes

    # -- cron --------------------------------------------------------------------------------

    def cron(self):
        """replicationCron's full-sync part, once a second."""
        self._drop_stalled()
        if self.should_start():
            self.start()
        self._remove_sync_file()

    def _drop_stalled(self):
        """A diskless replica that has kept the pipe paused for longer than
        repl-timeout holds every other one back: drop it."""
        save = self.save
        if save is None or not save.diskless:
            return
        now = self.instance.clock.seconds()
        timeout = self.config["repl-timeout"]
        for link in save.served():
            since = save.fanout.stalled_since(link)
            if since is not None and now - since > timeout:
                link.drop(f"Disconnecting timedout replica (full sync): {link.name()}")

    def _remove_sync_file(self):
        """removeRDBUsedToSyncReplicas: with rdb-del-sync-files and no
        persistence configured, the dump written only to feed replicas is
        deleted once no replica needs it."""
        config = self.config
        if not config["rdb-del-sync-files"]:
            self.rdb_generated = False
            return
        if not self.rdb_generated or config["save"] or config["appendonly"]:
            return
        if any(link.state in (WAIT_BGSAVE, SEND_BULK_WAIT, SEND_BULK)
               for link in self.master.links):
            return
        filename = self.persistence.filename
        if os.path.lexists(filename):
            self.rdb_generated = False
            log.info("Removing the RDB file used to feed replicas in a "
                     "persistence-less instance")
            try:
                os.unlink(filename)
            except OSError:
                pass


def _rdb_filter(link):
    """What a link's RDB leaves out (REPLCONF rdb-filter-only)."""
    return (link.rdb_exclude_data, link.rdb_exclude_functions)


def _attachable_peer(save, link):
    """A link the running disk save already serves whose stream ``link`` can
    share: it must not lack a capability that one has, and an rdb-only link
    (which keeps no stream) only serves another rdb-only one."""
    if any(_rdb_filter(link)):
        return None     # a filtered RDB is made for it alone
    for peer in save.served():
        if peer.rdb_only and not link.rdb_only:
            continue
        if (peer.capa_eof and not link.capa_eof) or \
                (peer.capa_psync2 and not link.capa_psync2):
            return None
        return peer
    return None


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass
