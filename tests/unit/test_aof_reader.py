"""The AOF command reader: Redis 7.0's loadSingleAppendOnlyFile parsing
(commands, annotations, torn tails, format errors and their offsets),
whatever the chunking of the input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redisrepl.persistence.aof_reader import (
    LINE_MAX,
    AofCommand,
    AofFormatError,
    AofReader,
    AofTruncated,
)
from redisrepl.resp.encoder import encode_command

argvs = st.lists(st.lists(st.binary(max_size=30), min_size=1, max_size=5), max_size=8)


def encoded(commands, annotate=False):
    """The AOF bytes of ``commands`` and each one's (start, end)."""
    out, spans = b"", []
    for argv in commands:
        if annotate:
            out += b"#TS:1700000000\r\n"
        start = len(out)
        out += encode_command(argv)
        spans.append((start, len(out)))
    return out, spans


def split(data, cuts):
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, last = [], 0
    for p in points + [len(data)]:
        pieces.append(data[last:p])
        last = p
    return pieces


def read_all(pieces):
    reader = AofReader()
    out = []
    for piece in pieces:
        out += reader.feed(piece)
    return out + reader.close()


@given(argvs, st.lists(st.integers(0, 2000)), st.booleans())
def test_any_chunking_gives_the_commands_and_offsets(commands, cuts, annotate):
    """Commands come out whole, in order, with their start/end offsets,
    however the bytes are split; annotations are skipped."""
    data, spans = encoded(commands, annotate)
    got = read_all(split(data, cuts))
    assert got == [AofCommand(argv, s, e) for argv, (s, e) in zip(commands, spans, strict=True)]


@given(argvs.filter(bool), st.data())
def test_a_torn_tail_is_a_short_read_at_the_torn_command(commands, data):
    """Cut inside the last command: the whole ones before are returned and
    the error gives the torn command's start (where Redis truncates)."""
    raw, spans = encoded(commands)
    start, end = spans[-1]
    cut = data.draw(st.integers(start + 1, end - 1))
    reader = AofReader()
    got = reader.feed(raw[:cut])
    with pytest.raises(AofTruncated) as caught:
        got += reader.close()
    got += caught.value.commands
    assert [c.argv for c in got] == commands[:-1]
    assert caught.value.offset == start


@given(argvs.filter(bool), st.data(), st.sampled_from(b"+-:xX\r\n ?"))
def test_a_bad_first_byte_is_a_format_error_at_its_offset(commands, data, bad):
    """A command not starting with '*' (or an argument not with '$') is
    fmterr at the offset of that line."""
    raw, spans = encoded(commands)
    index = data.draw(st.integers(0, len(spans) - 1))
    start = spans[index][0]
    corrupt = raw[:start] + bytes([bad]) + raw[start + 1:]
    with pytest.raises(AofFormatError) as caught:
        read_all([corrupt])
    assert caught.value.offset == start
    assert [c.argv for c in caught.value.commands] == commands[:index]


def test_quirks_of_redis_parsing_are_kept():
    """atoi/strtol lengths, unchecked CRLF after an argument, *0 and *-1 as
    format errors, a lone '*' at EOF as a short read."""
    assert read_all([b"*1 junk\r\n$4xx\r\nPINGab"]) == [AofCommand([b"PING"], 0, 21)]
    for bad in (b"*0\r\n", b"*-1\r\n", b"*x\r\n", b"*1\r\n:4\r\nPING\r\n"):
        with pytest.raises(AofFormatError):
            read_all([bad])
    with pytest.raises(AofTruncated) as caught:
        read_all([b"*1\r\n$4\r\nPING\r\n*"])
    assert caught.value.offset == 14


def test_a_torn_annotation_is_no_error():
    """A '#' line cut by the end of the file is skipped, as fgets returns it."""
    assert read_all([b"*1\r\n$4\r\nPING\r\n#TS:17"]) == [AofCommand([b"PING"], 0, 14)]


def test_lines_longer_than_fgets_buffer_are_read_in_pieces():
    """A 2000-byte annotation is read 1023 bytes at a time: its second
    piece does not start with '#', so Redis (and we) call it a format error."""
    with pytest.raises(AofFormatError) as caught:
        read_all([b"#" + b"x" * 2000 + b"\r\n"])
    assert caught.value.offset == LINE_MAX


def test_start_offset_counts_from_the_file_start():
    """After an RDB preamble of N bytes, offsets keep counting from 0 of the file."""
    reader = AofReader(start=100)
    assert reader.feed(b"*1\r\n$4\r\nPING\r\n") == [AofCommand([b"PING"], 100, 114)]
