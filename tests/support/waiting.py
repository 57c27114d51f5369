"""Await a condition on the reactor with a bounded deadline: never a sleep
where a condition can be awaited, and never an unbounded wait."""

from twisted.internet import defer, task


class ConditionTimeout(AssertionError):
    """A condition did not hold before its deadline (fails the test)."""


@defer.inlineCallbacks
def wait_until(predicate, timeout=10.0, interval=0.01, what=None, clock=None):
    """Fire with predicate()'s first truthy result; fail after ``timeout``.

    The predicate is polled every ``interval`` seconds of reactor time, so
    the reactor keeps serving sockets (the server under test included).
    """
    if clock is None:
        from twisted.internet import reactor as clock
    deadline = clock.seconds() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if clock.seconds() >= deadline:
            raise ConditionTimeout(
                f"timed out after {timeout:.1f}s waiting for {what or predicate}")
        yield task.deferLater(clock, interval, lambda: None)


def bounded(d, timeout, what, clock=None):
    """``d`` failing with ConditionTimeout if it has not fired in time."""
    if clock is None:
        from twisted.internet import reactor as clock

    def on_timeout(result, seconds):
        raise ConditionTimeout(f"timed out after {seconds:.1f}s waiting for {what}")

    return d.addTimeout(timeout, clock, onTimeoutCancel=on_timeout)
