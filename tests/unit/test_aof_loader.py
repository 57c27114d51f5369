"""Loading the AOF directory: base (commands or RDB preamble) then incrs,
MULTI/EXEC and SELECT, torn tails, corrupt files, Redis's log lines, the
loading flags meanwhile, and start-up preferring the AOF over the RDB."""

import os

import pytest

from redisrepl import errors
from redisrepl.persistence.aof_loader import (
    AOF_EMPTY,
    AOF_NOT_EXIST,
    AOF_OK,
    AOF_TRUNCATED,
    AofLoadError,
    load_aof_dir,
    read_manifest,
)
from redisrepl.persistence.loading import load_at_startup
from redisrepl.persistence.snapshot import snapshot_of
from redisrepl.resp.encoder import encode_command
from tests.unit.harness import Harness
from tests.unit.test_loader import Stepper

DIR = "appendonlydir"
MANIFEST = (b"file appendonly.aof.1.base.aof seq 1 type b\n"
            b"file appendonly.aof.1.incr.aof seq 1 type i\n")


def cmds(*commands):
    return b"".join(encode_command([a.encode() if isinstance(a, str) else a for a in c])
                    for c in commands)


def write_dir(base=b"", incr=b"", manifest=MANIFEST, base_name="appendonly.aof.1.base.aof"):
    os.makedirs(DIR, exist_ok=True)
    with open(os.path.join(DIR, "appendonly.aof.manifest"), "wb") as f:
        f.write(manifest)
    with open(os.path.join(DIR, base_name), "wb") as f:
        f.write(base)
    with open(os.path.join(DIR, "appendonly.aof.1.incr.aof"), "wb") as f:
        f.write(incr)


@pytest.fixture
def aof():
    return Harness("appendonly yes")


def test_base_and_incr_commands_with_select_and_multi(aof):
    """Commands of the base then the incr apply in order, SELECT switches db,
    MULTI/EXEC runs its queue; nothing is propagated and no reply is sent."""
    write_dir(base=cmds(("SELECT", "0"), ("SET", "a", "1"), ("RPUSH", "l", "x", "y")),
              incr=cmds(("SELECT", "5"), ("MULTI",), ("SET", "b", "2"), ("INCR", "b"),
                        ("EXEC",), ("SELECT", "0"), ("DEL", "a")))
    load = load_aof_dir(aof.server)
    assert load.status == AOF_OK
    assert [f.name for f in load.files] == ["appendonly.aof.1.base.aof",
                                            "appendonly.aof.1.incr.aof"]
    assert aof("EXISTS", "a") == 0 and aof("LRANGE", "l", 0, -1) == [b"x", b"y"]
    aof("SELECT", 5)
    assert aof("GET", "b") == b"3"
    assert aof.propagated == []
    assert not aof.server.loading and not aof.server.keyspace.loading


def test_rdb_preamble_base_then_incr(aof, logged):
    """A base.rdb (aof-base RDB) loads through the RDB loader, keeps keys
    already expired (AOF preamble rule), then the incr applies on top."""
    source = Harness()
    source("SET", "k", "v")
    source("HSET", "h", "f", "1")
    source("SET", "gone", "x", "PX", "100")
    snapshot = b"".join(snapshot_of(source.server, aof_base=True).chunks())
    aof.advance(1)        # "gone" is past its time when loaded
    write_dir(base=snapshot, incr=cmds(("HSET", "h", "g", "2")),
              manifest=MANIFEST.replace(b"base.aof", b"base.rdb"),
              base_name="appendonly.aof.1.base.rdb")
    load = load_aof_dir(aof.server)
    assert load.status == AOF_OK and load.base_size == len(snapshot)
    assert dict(aof("HGETALL", "h")) == {b"f": b"1", b"g": b"2"}
    assert b"gone" in aof.db.data
    assert "Reading RDB base file on AOF loading..." in logged
    assert "DB loaded from base file appendonly.aof.1.base.rdb" in "\n".join(logged)


def test_old_style_preamble_with_aof_tail(aof, logged):
    """A single old-style file (RDB preamble + commands) is moved into the
    directory as the base and both parts load."""
    source = Harness()
    source("SET", "k", "v")
    data = b"".join(snapshot_of(source.server).chunks()) + cmds(("SET", "t", "tail"))
    with open("appendonly.aof", "wb") as f:
        f.write(data)
    load = load_aof_dir(aof.server)
    assert load.status == AOF_OK
    assert aof("GET", "k") == b"v" and aof("GET", "t") == b"tail"
    assert os.listdir(DIR) and not os.path.exists("appendonly.aof")
    assert read_manifest(aof.server).base.name == "appendonly.aof"
    text = "\n".join(logged)
    assert "Successfully migrated an old-style AOF file (appendonly.aof) into the AOF " \
        "directory (appendonlydir)." in text
    assert "Reading RDB preamble from AOF file..." in text
    assert "Reading the remaining AOF tail..." in text


def test_torn_tail_is_truncated_when_allowed(aof, logged):
    """aof-load-truncated yes: the torn last command is cut off the file at
    the last good command's end, with Redis's warnings."""
    good = cmds(("SET", "a", "1"))
    write_dir(incr=good + cmds(("SET", "b", "2"))[:-3])
    load = load_aof_dir(aof.server)
    assert load.status == AOF_TRUNCATED
    assert aof("GET", "a") == b"1" and aof("EXISTS", "b") == 0
    assert os.path.getsize(os.path.join(DIR, "appendonly.aof.1.incr.aof")) == len(good)
    assert "!!! Warning: short read while loading the AOF file " \
        "appendonly.aof.1.incr.aof!!!" in logged
    assert f"!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {len(good)} !!!" \
        in logged
    assert "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated " \
        "is enabled" in logged


def test_unfinished_multi_is_reverted_and_cut(aof, logged):
    """Whole commands but no EXEC at the end: the transaction is dropped and
    the file cut where MULTI began."""
    good = cmds(("SET", "a", "1"))
    write_dir(incr=good + cmds(("MULTI",), ("SET", "b", "2")))
    assert load_aof_dir(aof.server).status == AOF_TRUNCATED
    assert aof("EXISTS", "b") == 0 and aof("GET", "a") == b"1"
    assert os.path.getsize(os.path.join(DIR, "appendonly.aof.1.incr.aof")) == len(good)
    assert "Revert incomplete MULTI/EXEC transaction in AOF file " \
        "appendonly.aof.1.incr.aof" in logged


def test_torn_tail_refused_when_not_allowed(logged):
    """aof-load-truncated no: a torn tail fails the load, file untouched."""
    srv = Harness("appendonly yes\naof-load-truncated no")
    data = cmds(("SET", "a", "1"), ("SET", "b", "2"))[:-1]
    write_dir(incr=data)
    with pytest.raises(AofLoadError):
        load_aof_dir(srv.server)
    assert os.path.getsize(os.path.join(DIR, "appendonly.aof.1.incr.aof")) == len(data)
    assert any(line.startswith("Unexpected end of file reading the append only file "
                               "appendonly.aof.1.incr.aof. You can: 1) Make a backup")
               for line in logged)
    assert not srv.server.loading


def test_torn_base_that_is_not_the_last_file_is_fatal(aof):
    """Only the last file may be cut: a torn base with an incr after it fails."""
    write_dir(base=cmds(("SET", "a", "1"))[:-2], incr=cmds(("SET", "b", "2")))
    with pytest.raises(AofLoadError):
        load_aof_dir(aof.server)


def test_corrupt_middle_stops_naming_file_and_offset(aof, logged):
    """A bad byte in the middle fails with Redis's fmterr text and the offset."""
    first = cmds(("SET", "a", "1"))
    write_dir(incr=first + b"?" + cmds(("SET", "b", "2"))[1:] + cmds(("SET", "c", "3")))
    with pytest.raises(AofLoadError):
        load_aof_dir(aof.server)
    assert f"Bad file format at offset {len(first)} of the append only file " \
        "appendonly.aof.1.incr.aof" in logged
    assert "Bad file format reading the append only file appendonly.aof.1.incr.aof: make " \
        "a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>" \
        in logged


def test_unknown_command_stops(aof, logged):
    """A command the server does not know fails the load, named as Redis does."""
    write_dir(incr=cmds(("NOSUCH", "x")))
    with pytest.raises(AofLoadError):
        load_aof_dir(aof.server)
    assert "Unknown command 'NOSUCH' reading the append only file " \
        "appendonly.aof.1.incr.aof" in logged


def test_missing_listed_file_is_fatal(aof, logged):
    """A file in the manifest but not on the disk fails before reading."""
    write_dir(incr=cmds(("SET", "a", "1")))
    os.unlink(os.path.join(DIR, "appendonly.aof.1.base.aof"))
    with pytest.raises(AofLoadError):
        load_aof_dir(aof.server)
    assert any(line.startswith("Unable to obtain the AOF file appendonly.aof.1.base.aof "
                               "length. stat: ") for line in logged)


def test_empty_and_absent(aof):
    """Empty files: AOF_EMPTY; no directory: AOF_NOT_EXIST. Neither fails."""
    assert load_aof_dir(aof.server).status == AOF_NOT_EXIST
    write_dir()
    assert load_aof_dir(aof.server).status == AOF_EMPTY


def test_broken_manifest_logged_as_redis(aof, logged):
    """The FATAL block Redis logs: header, line number, the line, the reason."""
    os.makedirs(DIR)
    with open(os.path.join(DIR, "appendonly.aof.manifest"), "wb") as f:
        f.write(b"file a/b seq 1 type i\n")
    with pytest.raises(AofLoadError):
        read_manifest(aof.server)
    assert logged[-4:] == ["\n*** FATAL AOF MANIFEST FILE ERROR ***\n",
                           "Reading the manifest file, at line 1\n",
                           ">>> 'file a/b seq 1 type i'\n",
                           "File can't be a path, just a filename\n"]


def test_startup_loads_cooperatively_with_loading_replies(logged):
    """At start-up the AOF loads a chunk per turn: -LOADING meanwhile, data after."""
    srv = Harness("appendonly yes\nloading-process-events-interval-bytes 1024")
    write_dir(incr=b"".join(cmds(("SET", f"k{i}", "v" * 40)) for i in range(200)))
    stepper = Stepper()
    done = []
    load_at_startup(srv.server, stepper.cooperator).addCallback(done.append)
    assert srv("GET", "k1") is errors.LOADING
    stepper.step()
    info = srv("INFO", "persistence").decode()
    # The 5-byte "REDIS" probe, then one chunk.
    assert "loading:1\r\n" in info and "loading_loaded_bytes:1029\r\n" in info
    while not done:
        stepper.step()
    assert done == [True]
    assert srv("GET", "k199") == b"v" * 40
    assert any(line.startswith("DB loaded from append only file: ") for line in logged)
    assert srv.server.aof_load.status == AOF_OK


def test_startup_prefers_aof_and_ignores_rdb_when_appendonly(logged):
    """appendonly yes: the AOF loads and dump.rdb is not read, even with no AOF."""
    source = Harness()
    source("SET", "from", "rdb")
    with open("dump.rdb", "wb") as f:
        f.write(b"".join(snapshot_of(source.server).chunks()))
    srv = Harness("appendonly yes")
    done = []
    load_at_startup(srv.server, Stepper().cooperator).addCallback(done.append)
    assert done == [False] and srv("EXISTS", "from") == 0
    write_dir(incr=cmds(("SET", "from", "aof")))
    stepper = Stepper()
    load_at_startup(srv.server, stepper.cooperator).addCallback(done.append)
    while len(done) < 2:
        stepper.step()
    assert srv("GET", "from") == b"aof"
    plain = Harness()
    stepper = Stepper()
    load_at_startup(plain.server, stepper.cooperator).addCallback(done.append)
    while len(done) < 3:
        stepper.step()
    assert plain("GET", "from") == b"rdb"


def test_startup_refuses_broken_manifest_even_without_appendonly():
    """Redis reads the manifest whatever appendonly says: a broken one stops start-up."""
    os.makedirs(DIR)
    with open(os.path.join(DIR, "appendonly.aof.manifest"), "wb") as f:
        f.write(b"")
    failures = []
    load_at_startup(Harness().server, Stepper().cooperator).addErrback(failures.append)
    assert failures and failures[0].check(AofLoadError)
