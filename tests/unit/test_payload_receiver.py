"""The replica's full-sync payload reader (redisrepl/replication/payload.py):
both framings cut at every byte, keepalives, the EOF mark split or half
present in the RDB, stream bytes after the payload, bad headers with
Redis's texts, constant memory, and an RDB going through to RdbLoader."""

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.persistence.loader import RdbLoader
from redisrepl.rdb.errors import Truncated
from redisrepl.replication.payload import (
    EOF_MARK_SIZE,
    Chunk,
    Finished,
    PayloadError,
    PayloadReceiver,
    Started,
    SyncProgress,
)
from tests.unit.harness import Harness
from tests.unit.test_loader import contents, dump_of, every_type

# As getRandomHexChars makes them (not periodic: no prefix of it is a suffix).
MARK = b"9f3c1a7e5b2d48c6a0e1f7b3d5c9284a6e0b1f3d"
OTHER_MARK = b"f" * EOF_MARK_SIZE
STREAM = b"*1\r\n$4\r\nPING\r\n"


def sized(rdb, rest=b"", prefix=b""):
    """Disk-based framing: ``$<len>`` then the RDB."""
    return prefix + b"$%d\r\n" % len(rdb) + rdb + rest


def marked(rdb, rest=b"", prefix=b"", mark=MARK):
    """Diskless framing: ``$EOF:<mark>``, the RDB, the mark."""
    return prefix + b"$EOF:" + mark + b"\r\n" + rdb + mark + rest


class Outcome:
    """Everything a receiver said about some input, merged."""

    def __init__(self):
        self.receiver = PayloadReceiver()
        self.events = []
        self.after = b""        # input left unfed once Finished came

    @property
    def started(self):
        return [e for e in self.events if type(e) is Started]

    @property
    def rdb(self):
        chunks = [e.data for e in self.events if type(e) is Chunk]
        assert all(chunks), "an empty Chunk"
        return b"".join(chunks)

    @property
    def finished(self):
        return any(type(e) is Finished for e in self.events)

    @property
    def rest(self):
        """Finished's rest."""
        return next(e.rest for e in self.events if type(e) is Finished)

    def assert_order(self):
        """Started first, Finished last, Chunks between."""
        kinds = [type(e) for e in self.events]
        assert kinds[0] is Started and kinds.count(Started) == 1
        assert kinds[-1] is Finished and kinds.count(Finished) == 1
        assert set(kinds[1:-1]) <= {Chunk}


def run(data, cuts):
    """Feed ``data`` cut at the positions ``cuts``; the tail after
    Finished is appended to its rest, as the caller's stream would get it."""
    bounds = [0, *sorted(cuts), len(data)]
    pieces = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    outcome = Outcome()
    for index, piece in enumerate(pieces):
        outcome.events += outcome.receiver.feed(piece)
        if outcome.finished:
            outcome.after = b"".join(pieces[index + 1:])
            break
    return outcome


def check(data, cuts, rdb, rest, size=None, mark=None):
    outcome = run(data, cuts)
    outcome.assert_order()
    assert outcome.started == [Started(size, mark)]
    assert outcome.rdb == rdb
    assert outcome.rest + outcome.after == rest
    receiver = outcome.receiver
    assert receiver.finished
    assert receiver.rdb_bytes == len(rdb)
    assert receiver.read_bytes == len(rdb) + (EOF_MARK_SIZE if mark else 0)
    assert receiver.received_bytes == len(data) - len(rest)
    return outcome


# -- both framings, cut everywhere ------------------------------------------------------

SMALL_RDB = b"REDIS0010\xfa\x09redis-ver\x057.0.15\xff" + bytes(8)


@pytest.mark.parametrize("frame, size, mark", [
    (lambda rdb, rest: sized(rdb, rest, b"\n"), len(SMALL_RDB), None),
    (lambda rdb, rest: marked(rdb, rest, b"\n"), None, MARK),
], ids=["sized", "eof"])
def test_every_one_and_two_cut_chunking_gives_the_same_rdb_and_rest(frame, size, mark):
    """Whatever byte boundaries the socket cuts at, the RDB and the bytes
    after it come out whole and unchanged, in both framings."""
    data = frame(SMALL_RDB, STREAM)
    for i in range(len(data) + 1):
        check(data, [i], SMALL_RDB, STREAM, size, mark)
        for j in range(i, len(data) + 1):
            check(data, [i, j], SMALL_RDB, STREAM, size, mark)


@pytest.mark.parametrize("framing", [sized, marked])
def test_one_byte_at_a_time(framing):
    """A payload fed one byte per call is read exactly."""
    data = framing(SMALL_RDB, STREAM, b"\n\n")
    check(data, range(1, len(data)), SMALL_RDB, STREAM,
          len(SMALL_RDB) if framing is sized else None, MARK if framing is marked else None)


@settings(max_examples=300, deadline=None)
@given(rdb=st.binary(max_size=300), rest=st.binary(max_size=50),
       keepalives=st.integers(0, 3), eof=st.booleans(), data=st.data())
def test_random_payloads_in_random_chunks(rdb, rest, keepalives, eof, data):
    """Random RDB and stream bytes, random chunking: same RDB, same rest."""
    if eof and (rdb + MARK).find(MARK) != len(rdb):
        return          # a collision with the mark ends the payload there, by design
    prefix = b"\n" * keepalives
    framed = marked(rdb, rest, prefix) if eof else sized(rdb, rest, prefix)
    cuts = data.draw(st.lists(st.integers(0, len(framed)), max_size=12))
    outcome = check(framed, cuts, rdb, rest, None if eof else len(rdb), MARK if eof else None)
    assert outcome.receiver.keepalives == keepalives


# -- keepalives and the header line ------------------------------------------------------

def test_keepalives_before_the_header_are_counted_and_consumed():
    """Bare newlines, CRLFs and NUL-led lines before the header are pings."""
    receiver = PayloadReceiver()
    assert receiver.feed(b"\n\r\n") == []
    assert receiver.feed(b"\n") == []
    assert receiver.feed(b"\0junk\r\n") == []     # a C string: empty
    assert receiver.keepalives == 4
    assert not receiver.started
    assert receiver.feed(b"$3\r\nabc") == [Started(3, None), Chunk(b"abc"), Finished(b"")]
    assert receiver.received_bytes == 3 + 1 + 7 + 4 + 3


def test_header_without_cr_and_longer_eof_mark_are_accepted():
    """`$3\\n` works (syncReadLine strips \\r only if present); an $EOF line
    longer than 40 uses its first 40 bytes as the mark, as Redis does."""
    assert PayloadReceiver().feed(b"$1\nx")[0] == Started(1, None)
    events = PayloadReceiver().feed(b"$EOF:" + MARK + b"extra\r\nrdb" + MARK)
    assert events == [Started(None, MARK), Chunk(b"rdb"), Finished(b"")]


def test_a_partial_header_waits_for_its_newline():
    """No event until the header line is complete."""
    receiver = PayloadReceiver()
    assert receiver.feed(b"$EOF:" + MARK[:10]) == []
    assert receiver.feed(MARK[10:] + b"\r") == []
    assert receiver.feed(b"\n") == [Started(None, MARK)]


def test_zero_length_payload_finishes_at_once():
    """`$0` is a complete (empty) payload; the RDB loader judges it."""
    assert PayloadReceiver().feed(b"$0\r\n" + STREAM) == [Started(0, None), Finished(STREAM)]


# -- the EOF mark ------------------------------------------------------------------------

def test_mark_split_across_chunks_is_found_and_never_emitted():
    """The mark cut anywhere across two feeds ends the payload; no Chunk
    holds any byte of it."""
    for cut in range(1, EOF_MARK_SIZE):
        receiver = PayloadReceiver()
        events = receiver.feed(b"$EOF:" + MARK + b"\r\n" + b"x" * 100 + MARK[:cut])
        assert events == [Started(None, MARK), Chunk(b"x" * (100 + cut - (EOF_MARK_SIZE - 1)))]
        assert receiver.read_bytes - receiver.rdb_bytes == EOF_MARK_SIZE - 1
        held = EOF_MARK_SIZE - 1 - cut
        events = receiver.feed(MARK[cut:] + b"tail")
        assert events == [Chunk(b"x" * held)] * bool(held) + [Finished(b"tail")]


@pytest.mark.parametrize("length", range(1, EOF_MARK_SIZE))
def test_rdb_holding_the_start_of_the_mark_does_not_end_early(length):
    """RDB bytes that begin like the mark (inside it, at a chunk's end,
    just before the real mark) are RDB bytes."""
    rdb = MARK[:length] + b"|" + MARK[:length] + MARK[:length]
    data = marked(rdb, b"after")
    for cut in range(len(data) + 1):
        check(data, [cut], rdb, b"after", None, MARK)


def test_wrong_mark_never_finishes_and_holds_back_only_39_bytes():
    """A payload ending with another mark goes on for ever (the caller's
    repl-timeout ends it): no Finished, every byte but 39 handed on."""
    receiver = PayloadReceiver()
    receiver.feed(b"$EOF:" + MARK + b"\r\n")
    block = bytes(range(256)) * 64
    for _ in range(64):
        events = receiver.feed(block + OTHER_MARK + STREAM)
        assert all(type(e) is Chunk for e in events)
        assert receiver.read_bytes - receiver.rdb_bytes == EOF_MARK_SIZE - 1
    assert not receiver.finished


@pytest.mark.parametrize("header", [b"$EOF:" + MARK + b"\r\n", b"$%d\r\n" % (1 << 40)])
def test_streaming_a_large_payload_uses_constant_memory(header):
    """64 MB in 64 KB feeds: peak memory stays a few chunks, whatever the
    total (no growing buffer, nothing re-joined)."""
    receiver = PayloadReceiver()
    receiver.feed(header)
    block = b"r" * (1 << 16)
    tracemalloc.start()
    try:
        for _ in range(1024):
            receiver.feed(block)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert receiver.read_bytes == 1 << 26
    assert peak < 8 * len(block)


# -- what follows the payload -------------------------------------------------------------

@pytest.mark.parametrize("framing", [sized, marked])
def test_stream_bytes_after_the_payload_are_returned_exactly(framing):
    """The replication stream glued to the payload comes back in Finished,
    untouched, and nothing of it counts as payload."""
    stream = STREAM + b"\n\r\n$EOF:" + MARK + b"\r\n" + bytes(range(256))
    receiver = PayloadReceiver()
    events = receiver.feed(framing(b"RDB", stream))
    assert events[-1] == Finished(stream)
    assert receiver.received_bytes == len(framing(b"RDB"))


@pytest.mark.parametrize("framing", [sized, marked])
def test_feeding_after_finished_is_a_bug(framing):
    """Bytes after Finished belong to the stream: feed() refuses them."""
    receiver = PayloadReceiver()
    receiver.feed(framing(b"RDB"))
    with pytest.raises(RuntimeError):
        receiver.feed(b"x")


# -- bad headers ----------------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    (b"+OK\r\n",
     "Bad protocol from MASTER, the first byte is not '$' (we received '+OK'), "
     "are you sure the host and port are right?"),
    (b"\nHTTP/1.1 200 OK\r\n",
     "Bad protocol from MASTER, the first byte is not '$' (we received 'HTTP/1.1 200 OK'), "
     "are you sure the host and port are right?"),
    (b"-ERR no disk space\r\n", "MASTER aborted replication with an error: ERR no disk space"),
    (b"$abc\r\n", "Bad protocol from MASTER, invalid bulk length (we received '$abc'), "
                  "are you sure the host and port are right?"),
    (b"$-5\r\n", "Bad protocol from MASTER, invalid bulk length (we received '$-5'), "
                 "are you sure the host and port are right?"),
    (b"$\r\n", "Bad protocol from MASTER, invalid bulk length (we received '$'), "
               "are you sure the host and port are right?"),
    (b"$ 12\r\n", "Bad protocol from MASTER, invalid bulk length (we received '$ 12'), "
                  "are you sure the host and port are right?"),
    (b"$EOF:short\r\n", "Bad protocol from MASTER, invalid bulk length (we received "
                        "'$EOF:short'), are you sure the host and port are right?"),
    (b"$99999999999999999999\r\n", "Bad protocol from MASTER, invalid bulk length (we "
     "received '$99999999999999999999'), are you sure the host and port are right?"),
])
def test_bad_headers_raise_with_redis_texts(data, message):
    """A header a replica cannot use raises PayloadError with the line
    Redis logs, whatever the chunking; the receiver is dead after it."""
    for cut in range(len(data) + 1):
        receiver = PayloadReceiver()
        with pytest.raises(PayloadError) as caught:
            receiver.feed(data[:cut])
            receiver.feed(data[cut:])
        assert caught.value.message == message == str(caught.value)
        with pytest.raises(RuntimeError):
            receiver.feed(b"$1\r\nx")


def test_master_error_text_is_kept():
    """A -ERR answer carries the master's own text for the caller."""
    with pytest.raises(PayloadError) as caught:
        PayloadReceiver().feed(b"-LOADING Redis is loading\r\n")
    assert caught.value.master_error == "LOADING Redis is loading"


def test_an_endless_header_line_is_cut_at_1023_bytes():
    """Garbage with no newline fails after 1023 bytes (syncReadLine's
    limit) instead of buffering for ever."""
    receiver = PayloadReceiver()
    assert receiver.feed(b"x" * 1022) == []
    with pytest.raises(PayloadError) as caught:
        receiver.feed(b"x" * 10_000)
    assert f"we received '{'x' * 1023}'" in caught.value.message


def test_truncated_sized_payload_never_finishes():
    """Fewer bytes than announced: no Finished; the left bytes show it."""
    receiver = PayloadReceiver()
    events = receiver.feed(b"$10\r\n12345")
    assert events == [Started(10, None), Chunk(b"12345")]
    assert receiver.progress() == SyncProgress(10, 5, 5, 50.0)
    assert not receiver.finished


def feed_until_done(pieces):
    """Feed until Finished or PayloadError; any other exception escapes."""
    receiver = PayloadReceiver()
    for piece in pieces:
        try:
            events = receiver.feed(piece)
        except PayloadError:
            return
        if receiver.finished:
            assert type(events[-1]) is Finished
            return


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=8))
def test_random_input_raises_nothing_but_payload_error(pieces):
    """Arbitrary bytes in arbitrary chunks: events, or PayloadError."""
    feed_until_done(pieces)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"$", b"$E", b"$EOF:", b"-", b"\n", b"$1", b"\r", b"\0"]),
       st.lists(st.binary(max_size=60), max_size=8))
def test_header_like_input_raises_nothing_but_payload_error(start, pieces):
    """Input that starts like a header and goes wrong: events, or PayloadError."""
    feed_until_done([start, *pieces])


# -- INFO numbers ------------------------------------------------------------------------------

def test_progress_has_redis_info_values():
    """master_sync_total/read/left/perc as Redis computes them: -1 before
    the header, the length in disk mode, 0 (and negative left) in EOF mode."""
    receiver = PayloadReceiver()
    assert receiver.progress() == SyncProgress(-1, 0, -1, 0.0)
    assert "%.2f" % receiver.progress().perc == "-0.00"      # Redis prints 0/-1*100
    receiver.feed(b"$200\r\n" + b"x" * 50)
    assert receiver.progress() == SyncProgress(200, 50, 150, 25.0)
    receiver = PayloadReceiver()
    receiver.feed(b"$EOF:" + MARK + b"\r\n" + b"x" * 100)
    assert receiver.total_bytes is None
    assert receiver.progress() == SyncProgress(0, 100, -100, 0.0)
    receiver.feed(MARK)
    assert receiver.progress() == SyncProgress(0, 140, -140, 0.0)


# -- into the RDB loader ------------------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(eof=st.booleans(), data=st.data())
def test_a_real_dump_goes_through_to_the_loader_in_random_chunks(eof, data):
    """A dump of every type, framed either way and fed in random chunk
    sizes through PayloadReceiver into RdbLoader, loads the same keys."""
    source = Harness()
    every_type(source)
    dump = dump_of(source)
    framed = marked(dump, STREAM, b"\n") if eof else sized(dump, STREAM, b"\n")
    sizes = data.draw(st.lists(st.integers(1, 5000), min_size=1, max_size=50))
    target = Harness()
    loader = RdbLoader(target.server)
    receiver = PayloadReceiver()
    pos = index = 0
    rest = None
    while rest is None:
        assert pos < len(framed), "the payload never finished"
        size = sizes[index % len(sizes)]
        index += 1
        for event in receiver.feed(framed[pos:pos + size]):
            if type(event) is Chunk:
                loader.feed(event.data)
            elif type(event) is Finished:
                rest = event.rest + framed[pos + size:]
        pos += size
    loader.finish()
    loader.commit()
    assert rest == STREAM
    assert contents(target) == contents(source)


def test_a_short_announced_length_leaves_the_loader_short():
    """`$<len>` smaller than the RDB: the payload ends at len, the loader
    reports a short read, the excess is handed back as the stream."""
    source = Harness()
    every_type(source)
    dump = dump_of(source)
    receiver = PayloadReceiver()
    events = receiver.feed(b"$%d\r\n" % (len(dump) - 10) + dump)
    assert events[-1] == Finished(dump[-10:])
    loader = RdbLoader(Harness().server)
    loader.feed(b"".join(e.data for e in events if type(e) is Chunk))
    with pytest.raises(Truncated):
        loader.finish()
