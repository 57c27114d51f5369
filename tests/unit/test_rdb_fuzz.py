"""Mutated RDB files and DUMP payloads: the decoder answers RdbError or a
result, never another exception, and always finishes (no hang: every
record consumes input, and hypothesis's deadline would catch a spin)."""

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redisrepl.rdb import DbSnapshot, RdbDecoder, RdbError, dump_payload, encode_all, load_payload
from redisrepl.rdb import constants as C
from redisrepl.rdb.crc64 import crc64
from tests.unit.rdb_samples import key_record, legacy_records, modern_values, payload, rdb_file

_VALUES = modern_values()
_LEGACY = legacy_records()

# One file with every modern encoding (written by the encoder) and one with
# every legacy record, built by hand; expiries in two databases.
_SEEDS = [
    encode_all([DbSnapshot(0, _VALUES, {b"str:small": 1 << 41}),
                DbSnapshot(3, {b"k": b"v"}, {b"k": 5})],
               aux=[(b"redis-ver", b"7.0.15"), (b"repl-offset", b"123")],
               functions=[b"#!lua name=lib\nredis.register_function('f', function() end)"]),
    rdb_file([b"\xfe\x01\xfb\x02\x00\xfd\x00\x00\x00\x10\xf8\x05\xf9\x07"] +
             [key_record(t, name.encode(), body) for name, (t, body, _) in _LEGACY.items()]),
]
_PAYLOADS = [dump_payload(v) for v in _VALUES.values()] + [
    payload(t, body) for t, body, _ in _LEGACY.values()]


def _mutation():
    """One edit of a byte string: flip, truncate, insert, delete, splice,
    or overwrite with an interesting value (lengths, encodings)."""
    at = st.floats(0, 1, exclude_max=True)
    interesting = st.sampled_from([b"\x00", b"\xff", b"\x80", b"\x81", b"\xc0", b"\xc3", b"\x3f",
                                   b"\x40", b"\xfe", b"\xf0", b"\xf4", b"\x81" + b"\xff" * 8,
                                   b"\x80\xff\xff\xff\xff"])
    return st.one_of(
        st.tuples(st.just("flip"), at, st.integers(1, 255)),
        st.tuples(st.just("truncate"), at, st.none()),
        st.tuples(st.just("insert"), at, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("delete"), at, st.integers(1, 16)),
        st.tuples(st.just("splice"), at, at),
        st.tuples(st.just("overwrite"), at, interesting),
    )


def _apply(data, mutations):
    data = bytearray(data)
    for kind, where, arg in mutations:
        if not data:
            break
        i = int(where * len(data))
        if kind == "flip":
            data[i] ^= arg
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = arg
        elif kind == "delete":
            del data[i:i + arg]
        elif kind == "splice":
            j = int(arg * len(data))
            data[i:] = data[j:j + len(data) - i]
        else:
            data[i:i + len(arg)] = arg
    return bytes(data)


def _decode_whole(data, verify):
    decoder = RdbDecoder(verify_checksum=verify)
    return decoder.feed(data) + decoder.close()


_FUZZ = settings(max_examples=400, deadline=2000,
                 suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.sampled_from(_SEEDS), st.lists(_mutation(), min_size=1, max_size=4), st.booleans())
def test_mutated_files_raise_only_rdb_error(seed, mutations, verify):
    """A mutated dump decodes or raises RdbError, with checksums checked or not."""
    data = _apply(seed, mutations)
    try:
        _decode_whole(data, verify)
    except RdbError as exc:
        assert exc.offset is None or 0 <= exc.offset <= len(data)


@_FUZZ
@given(st.sampled_from(_SEEDS), st.lists(_mutation(), min_size=1, max_size=3),
       st.integers(1, 64))
def test_mutated_files_in_chunks_raise_only_rdb_error(seed, mutations, chunk):
    """Fed in small chunks, a mutated dump also gives only RdbError."""
    data = _apply(seed, mutations)
    decoder = RdbDecoder(verify_checksum=False)
    try:
        for i in range(0, len(data), chunk):
            decoder.feed(data[i:i + chunk])
        decoder.close()
    except RdbError:
        pass


@_FUZZ
@given(st.sampled_from(_PAYLOADS), st.lists(_mutation(), min_size=1, max_size=3))
def test_mutated_payloads_raise_only_rdb_error(original, mutations):
    """A mutated DUMP payload (checksum not verified) loads or raises RdbError."""
    data = _apply(original, mutations)
    try:
        load_payload(data, verify_checksum=False)
    except RdbError:
        pass


@_FUZZ
@given(st.sampled_from(_PAYLOADS), st.lists(_mutation(), min_size=1, max_size=3))
def test_mutated_payload_bodies_with_fresh_crc(original, mutations):
    """A payload whose body is mutated but whose CRC is recomputed (so the
    value decoder, not the CRC, must catch it) loads or raises RdbError."""
    body = _apply(original[:-10], mutations)
    data = body + original[-10:-8]
    data += struct.pack("<Q", crc64(data))
    try:
        load_payload(data)
    except RdbError:
        pass


@settings(max_examples=300, deadline=2000)
@given(st.binary(max_size=200))
def test_random_bytes_after_header(tail):
    """Arbitrary bytes after a valid header never crash the decoder."""
    try:
        _decode_whole(b"REDIS%04d" % C.RDB_VERSION + tail, True)
    except RdbError:
        pass


@settings(max_examples=300, deadline=2000)
@given(st.sampled_from(sorted(C.VALUE_TYPES)), st.binary(max_size=120))
def test_random_value_bodies(rdb_type, body):
    """Any type byte followed by random bytes, as a payload, loads or raises RdbError."""
    try:
        load_payload(payload(rdb_type, body))
    except RdbError:
        pass
