"""The AOF manifest: Redis 7.0's parser verdicts and texts, its format,
the sequence rules of new base/incr names, and atomic persistence."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redisrepl.persistence.aof_manifest import (
    BASE,
    HISTORY,
    INCR,
    AofFile,
    Manifest,
    ManifestError,
    delete_history,
    load_manifest,
    manifest_name,
    persist_manifest,
)

REDIS_EXAMPLE = (b"file appendonly.aof.2.base.rdb seq 2 type b\n"
                 b"file appendonly.aof.1.incr.aof seq 1 type h\n"
                 b"file appendonly.aof.2.incr.aof seq 2 type h\n"
                 b"file appendonly.aof.3.incr.aof seq 3 type h\n"
                 b"file appendonly.aof.4.incr.aof seq 4 type i\n"
                 b"file appendonly.aof.5.incr.aof seq 5 type i\n")


def test_parses_redis_example_and_writes_it_back_byte_for_byte():
    """The manifest in aof.c's comment parses into base/history/incrs and
    formats back to the same bytes (base, history, incrs order)."""
    manifest = Manifest.parse(REDIS_EXAMPLE)
    assert manifest.base == AofFile("appendonly.aof.2.base.rdb", 2, BASE)
    assert [f.seq for f in manifest.history] == [1, 2, 3]
    assert all(f.kind == HISTORY for f in manifest.history)
    assert manifest.incrs == [AofFile("appendonly.aof.4.incr.aof", 4, INCR),
                              AofFile("appendonly.aof.5.incr.aof", 5, INCR)]
    assert (manifest.curr_base_seq, manifest.curr_incr_seq) == (2, 5)
    assert manifest.to_bytes() == REDIS_EXAMPLE


# Each verdict and text below was checked against redis-server 7.0.15 started
# on a directory holding that manifest (see the interop test for a live check).
REFUSED = [
    (b"", "Found an empty AOF manifest"),
    (b"file a seq 1 type i", "The AOF manifest file contains too long line"),   # no newline
    (b"\n", "Invalid AOF manifest file format"),
    (b"file appendonly.aof.1.incr.aof seq 1\n", "Invalid AOF manifest file format"),
    (b"file a/b seq 1 type i\n", "File can't be a path, just a filename"),
    (b"file a\\b seq 1 type i\n", "File can't be a path, just a filename"),
    (b"file appendonly.aof.1.incr.aof seq 0 type i\n", "Invalid AOF manifest file format"),
    (b"file appendonly.aof.1.incr.aof seq 1 type x\n", "Unknown AOF file type"),
    (b"file a seq 1 type i\nfile b seq 1 type i\n", "Found a non-monotonic sequence number"),
    (b'file "appendonly.aof.1.incr.aof seq 1 type i\n', "Invalid AOF manifest file format"),
    (b"file x seq 1 type b\nfile y seq 2 type b\n", "Found duplicate base file information"),
    (b"file appendonly.aof.1.incr.aof seq 1 type i extra\n", "Invalid AOF manifest file format"),
    (b"#" + b"x" * 2000 + b"\nfile a seq 1 type i\n", "Invalid AOF manifest file format"),
    (b"file a seq 1 type i " + b" " * 1100 + b"\n", "The AOF manifest file contains too long line"),
]

ACCEPTED = [
    b"file appendonly.aof.1.incr.aof seq 1 type i\n",
    b"# comment\n",
    b"FILE appendonly.aof.1.incr.aof SEQ 1abc TYPE inc extra val\n",
    b"file appendonly.aof.1.incr.aof seq 1 type i\r\n",
]


@pytest.mark.parametrize(("data", "message"), REFUSED)
def test_refuses_what_redis_refuses_with_its_text(data, message):
    """A manifest redis-server 7.0 refuses raises ManifestError with its message."""
    with pytest.raises(ManifestError) as caught:
        Manifest.parse(data)
    assert caught.value.message == message


@pytest.mark.parametrize("data", ACCEPTED)
def test_accepts_what_redis_accepts(data):
    """Comments, any-case keys, extra key/value pairs, atoll seqs and CRLF pass."""
    Manifest.parse(data)


def test_error_names_the_line():
    """The error carries the line number and trimmed line Redis logs."""
    with pytest.raises(ManifestError) as caught:
        Manifest.parse(b"# c\nfile a seq 1 type i\nfile a/b seq 2 type i \n")
    assert (caught.value.linenum, caught.value.line) == (3, "file a/b seq 2 type i")


def test_names_quoted_only_when_needed():
    """sdsneedsrepr: plain names bare; blanks, quotes and odd bytes quoted and escaped."""
    manifest = Manifest(base=AofFile("my file.rdb", 1, BASE),
                        incrs=[AofFile('q"\x01', 1, INCR)], curr_base_seq=1, curr_incr_seq=1)
    data = manifest.to_bytes()
    assert data == b'file "my file.rdb" seq 1 type b\nfile "q\\"\\x01" seq 1 type i\n'
    assert Manifest.parse(data) == manifest


# A single quote is written bare (sdsneedsrepr lets it pass) and then opens a
# quoted word when read: Redis cannot read such a name back either.
names = st.binary(min_size=1, max_size=40).filter(
    lambda b: not any(c in b for c in (b"/", b"\\", b"\0", b"'"))).map(os.fsdecode)


@st.composite
def manifests(draw):
    base = draw(st.none() | st.builds(AofFile, names, st.integers(1, 10**6), st.just(BASE)))
    history = draw(st.lists(st.builds(AofFile, names, st.integers(-5, 10**6).filter(bool),
                                      st.just(HISTORY)), max_size=4))
    seqs = sorted(draw(st.sets(st.integers(1, 10**9), max_size=4)))
    incrs = [AofFile(draw(names), seq, INCR) for seq in seqs]
    if base is None and not history and not incrs:
        incrs = [AofFile("a", 1, INCR)]
        seqs = [1]
    return Manifest(base, incrs, history, base.seq if base else 0, seqs[-1] if seqs else 0)


@given(manifests())
def test_to_bytes_parse_round_trip(manifest):
    """Whatever names and seqs, parse(to_bytes(m)) gives m back."""
    assert Manifest.parse(manifest.to_bytes()) == manifest


def test_rewrite_sequence_as_redis():
    """Start-up base+incr, then a rewrite: new incr at the fork, new base,
    old base and incrs to history (newest first), as backgroundRewriteDoneHandler."""
    manifest = Manifest()
    assert manifest.next_base_name("appendonly.aof", preamble=True) == \
        AofFile("appendonly.aof.1.base.rdb", 1, BASE)
    assert manifest.last_incr_name("appendonly.aof") == \
        AofFile("appendonly.aof.1.incr.aof", 1, INCR)
    before = manifest.copy()
    assert manifest.next_incr_name("appendonly.aof").name == "appendonly.aof.2.incr.aof"
    assert before.incrs == [AofFile("appendonly.aof.1.incr.aof", 1, INCR)]   # a real copy
    assert manifest.next_base_name("appendonly.aof", preamble=False).name == \
        "appendonly.aof.2.base.aof"
    manifest.mark_incrs_as_history(keep_last=True)
    assert manifest.to_bytes() == (b"file appendonly.aof.2.base.aof seq 2 type b\n"
                                   b"file appendonly.aof.1.incr.aof seq 1 type h\n"
                                   b"file appendonly.aof.1.base.rdb seq 1 type h\n"
                                   b"file appendonly.aof.2.incr.aof seq 2 type i\n")


def test_persist_is_atomic_and_load_reads_it_back(tmp_path):
    """persist_manifest leaves the manifest and no temp file; load_manifest
    reads it; an absent manifest is None."""
    assert load_manifest(str(tmp_path), "appendonly.aof") is None
    manifest = Manifest.parse(REDIS_EXAMPLE)
    persist_manifest(str(tmp_path), "appendonly.aof", manifest)
    assert sorted(os.listdir(tmp_path)) == [manifest_name("appendonly.aof")]
    assert (tmp_path / "appendonly.aof.manifest").read_bytes() == REDIS_EXAMPLE
    assert load_manifest(str(tmp_path), "appendonly.aof") == manifest


def test_delete_history_unlinks_and_persists(tmp_path):
    """History files go from the disk and the manifest; base and incrs stay."""
    manifest = Manifest.parse(REDIS_EXAMPLE)
    for entry in manifest.history + manifest.incrs + [manifest.base]:
        (tmp_path / entry.name).write_bytes(b"")
    (tmp_path / "appendonly.aof.2.incr.aof").unlink()      # already gone: no error
    delete_history(str(tmp_path), manifest)
    assert manifest.history == []
    assert sorted(os.listdir(tmp_path)) == [
        "appendonly.aof.2.base.rdb", "appendonly.aof.4.incr.aof",
        "appendonly.aof.5.incr.aof", "appendonly.aof.manifest"]
    assert load_manifest(str(tmp_path), "appendonly.aof") == manifest
