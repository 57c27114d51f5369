"""A trial TestCase base for an in-process server that forks children
(BGSAVE, full syncs, AOF rewrites): its own working directory (the dump goes there), and
no child left behind when a test ends, even a failing one."""

import os

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import rawclient
from tests.support.inprocess import start_server
from tests.support.waiting import wait_until


class ForkingServerCase(unittest.TestCase):
    def setUp(self):
        self.workdir = os.path.abspath(self.mktemp())
        os.makedirs(self.workdir)
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.workdir)

    @defer.inlineCallbacks
    def start(self, config_text='save ""'):
        """Start the server with ``config_text``; self.client talks to it."""
        self.server = start_server(self, config_text)
        self.addCleanup(self.stop_child)
        self.client = yield rawclient.connect(self, self.server.port)
        return self.server.instance

    @defer.inlineCallbacks
    def stop_child(self):
        instance = self.server.instance
        persistence = instance.persistence
        # An AOF rewrite child is killed and reaped at once (killAppendOnlyChild).
        instance.aof.kill_rewrite_child()
        if persistence.bgsave_in_progress:
            persistence.kill_child()
            yield wait_until(lambda: not persistence.bgsave_in_progress, timeout=20,
                             what="the killed child to be reaped")
