"""List commands: replies, null forms, errors, emptied keys, propagation,
keyspace events, WATCH, and the range/remove/search arithmetic against a
plain-Python model of Redis's rules."""

import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from redisrepl import errors
from redisrepl.commands.args import parse_timeout_seconds
from redisrepl.keyspace import copy_value
from redisrepl.listtype import ListValue
from redisrepl.resp.values import NULL_ARRAY, OK, ReplyError
from tests.unit.harness import Harness


def items(srv, key):
    return srv("LRANGE", key, 0, -1)


def subscribe_events(srv):
    """A client subscribed to every keyevent of db 0; returns a function
    giving the (event, key) pairs it has received so far."""
    srv("CONFIG", "SET", "notify-keyspace-events", "KEA")
    sub = srv.new_client()
    srv("PSUBSCRIBE", "__keyevent@0__:*", client=sub)

    def received():
        reader = hiredis.Reader()
        reader.feed(b"".join(sub.conn.sent))
        events = []
        while (message := reader.gets()) is not False:
            if message[0] == b"pmessage":
                events.append((message[2].rsplit(b":", 1)[1], message[3]))
        return events
    return received


# -- pushes --------------------------------------------------------------------

def test_lpush_prepends_in_argument_order_and_rpush_appends(srv):
    """LPUSH a b puts b first; RPUSH appends; both reply the new length."""
    assert srv("LPUSH", "l", "a", "b") == 2
    assert srv("RPUSH", "l", "x", "y") == 4
    assert items(srv, "l") == [b"b", b"a", b"x", b"y"]
    assert type(srv.db.get(b"l")) is ListValue


def test_pushx_only_pushes_onto_an_existing_list(srv):
    """LPUSHX/RPUSHX on a missing key reply 0 and create nothing."""
    assert srv("LPUSHX", "l", "a") == 0
    assert srv("RPUSHX", "l", "a") == 0
    assert srv.db.get(b"l") is None
    srv("RPUSH", "l", "m")
    assert srv("LPUSHX", "l", "a", "b") == 3
    assert srv("RPUSHX", "l", "z") == 4
    assert items(srv, "l") == [b"b", b"a", b"m", b"z"]


def test_pushes_count_one_change_per_element_and_propagate_verbatim(srv):
    """dirty grows by the number of pushed elements; argv is propagated."""
    before = srv.server.dirty
    srv("RPUSH", "l", "a", "b", "c")
    assert srv.server.dirty == before + 3
    assert srv.propagated == [[b"RPUSH", b"l", b"a", b"b", b"c"]]


def test_object_encoding_is_always_quicklist(srv):
    """Redis 7.0 reports every list, small or large, as a quicklist."""
    srv("RPUSH", "small", "a")
    srv("RPUSH", "large", *(["x" * 100] * 200))
    assert srv("OBJECT", "ENCODING", "small") == b"quicklist"
    assert srv("OBJECT", "ENCODING", "large") == b"quicklist"
    assert srv("TYPE", "small") == b"list"


def test_copy_is_independent_of_the_original(srv):
    """COPY's copier gives a list sharing nothing mutable."""
    srv("RPUSH", "l", "a", "b")
    original = srv.db.get(b"l")
    clone = copy_value(original)
    clone.append(b"c")
    assert type(clone) is ListValue and list(original) == [b"a", b"b"]


# -- wrong type, bad input -----------------------------------------------------

WRITES_ON_STRING = [
    ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"),
    ("RPUSHX", "s", "a"), ("LPOP", "s"), ("RPOP", "s"), ("LPOP", "s", "2"),
    ("LLEN", "s"), ("LRANGE", "s", "0", "-1"), ("LINDEX", "s", "0"),
    ("LSET", "s", "0", "v"), ("LINSERT", "s", "BEFORE", "a", "b"),
    ("LREM", "s", "0", "a"), ("LTRIM", "s", "0", "1"), ("LPOS", "s", "a"),
    ("LMOVE", "s", "d", "LEFT", "LEFT"), ("RPOPLPUSH", "s", "d"),
    ("LMPOP", "1", "s", "LEFT"), ("LMOVE", "l", "s", "LEFT", "LEFT"),
    ("RPOPLPUSH", "l", "s"), ("BLPOP", "s", "0"), ("BRPOP", "s", "0"),
    ("BLMPOP", "0", "1", "s", "LEFT"), ("BLMOVE", "s", "d", "LEFT", "LEFT", "0"),
    ("BRPOPLPUSH", "l", "s", "0"),
]


@pytest.mark.parametrize("args", WRITES_ON_STRING, ids=" ".join)
def test_every_command_refuses_a_string_and_changes_nothing(srv, args):
    """WRONGTYPE, with the keyspace and the dirty count left as they were."""
    srv("SET", "s", "v")
    srv("RPUSH", "l", "a", "b")
    dirty = srv.server.dirty
    assert srv(*args) == errors.WRONGTYPE
    assert srv("GET", "s") == b"v"
    assert items(srv, "l") == [b"a", b"b"]
    assert srv("EXISTS", "d") == 0
    assert srv.server.dirty == dirty


@pytest.mark.parametrize("args, error", [
    (("LPOP", "l", "-1"), errors.MUST_BE_POSITIVE),
    (("LPOP", "l", "x"), errors.MUST_BE_POSITIVE),
    (("LPOP", "l", "1", "2"),
     ReplyError("ERR wrong number of arguments for 'lpop' command")),
    (("LRANGE", "l", "a", "1"), errors.NOT_INTEGER),
    (("LINDEX", "l", "1.5"), errors.NOT_INTEGER),
    (("LSET", "l", "9", "v"), errors.OUT_OF_RANGE),
    (("LSET", "nokey", "0", "v"), errors.NO_SUCH_KEY),
    (("LINSERT", "l", "MIDDLE", "a", "b"), errors.SYNTAX),
    (("LMOVE", "l", "d", "UP", "LEFT"), errors.SYNTAX),
    (("LMPOP", "0", "l", "LEFT"), errors.NUMKEYS_NOT_POSITIVE),
    (("LMPOP", "2", "l", "LEFT"), errors.SYNTAX),
    (("LMPOP", "1", "l", "LEFT", "COUNT", "0"), errors.COUNT_NOT_POSITIVE),
    (("LPOS", "l", "a", "RANK", "0"),
     ReplyError("ERR RANK can't be zero: use 1 to start from the first "
                "match, 2 from the second ... or use negative to start from "
                "the end of the list")),
    (("LPOS", "l", "a", "COUNT", "-1"),
     ReplyError("ERR COUNT can't be negative")),
    (("LPOS", "l", "a", "MAXLEN", "x"),
     ReplyError("ERR MAXLEN can't be negative")),
    (("LPOS", "l", "a", "COUNT"), errors.SYNTAX),
])
def test_bad_arguments_get_redis_errors_and_change_nothing(srv, args, error):
    """Each malformed request replies Redis's error; the list is intact."""
    srv("RPUSH", "l", "a", "b")
    dirty = srv.server.dirty
    assert srv(*args) == error
    assert items(srv, "l") == [b"a", b"b"]
    assert srv.server.dirty == dirty


# -- pops ----------------------------------------------------------------------

def test_pop_null_forms_follow_redis(srv):
    """No key: a null bulk without COUNT, a null array with it; COUNT 0 on
    an existing list is an empty array."""
    assert srv("LPOP", "l") is None
    assert srv("RPOP", "l", "3") is NULL_ARRAY
    assert srv("LPOP", "l", "0") is NULL_ARRAY
    srv("RPUSH", "l", "a")
    assert srv("LPOP", "l", "0") == []
    assert srv("LINDEX", "l", "5") is None
    assert srv("LMPOP", "1", "nokey", "LEFT") is NULL_ARRAY
    assert srv("LMOVE", "nokey", "d", "LEFT", "LEFT") is None


def test_pop_with_count_pops_from_its_end_in_order(srv):
    """LPOP n returns head first; RPOP n returns tail first."""
    srv("RPUSH", "l", "a", "b", "c", "d", "e")
    assert srv("LPOP", "l", "2") == [b"a", b"b"]
    assert srv("RPOP", "l", "2") == [b"e", b"d"]
    assert srv("RPOP", "l", "9223372036854775807") == [b"c"]


@pytest.mark.parametrize("args", [
    ("LPOP", "l"), ("RPOP", "l", "5"), ("LREM", "l", "0", "a"),
    ("LTRIM", "l", "1", "0"), ("LMOVE", "l", "d", "LEFT", "LEFT"),
    ("LMPOP", "1", "l", "RIGHT"), ("BLPOP", "l", "0"),
], ids=" ".join)
def test_emptying_a_list_deletes_the_key_with_a_del_event(srv, args):
    """A key never holds an empty list; the command emits "del" after its
    own event."""
    srv("RPUSH", "l", "a")
    received = subscribe_events(srv)
    srv(*args)
    assert srv("EXISTS", "l") == 0
    events = received()
    assert events[-1] == (b"del", b"l")
    assert events[-2][0] in (b"lpop", b"rpop", b"lrem", b"ltrim")


def test_keyspace_events_name_each_command(srv):
    """Each write emits the event Redis 7.0's t_list.c emits."""
    received = subscribe_events(srv)
    srv("LPUSH", "l", "a", "b", "c")
    srv("RPUSHX", "l", "d")
    srv("LINSERT", "l", "BEFORE", "a", "x")
    srv("LSET", "l", "0", "y")
    srv("LREM", "l", "1", "x")
    srv("LTRIM", "l", "0", "-1")
    srv("LMOVE", "l", "m", "LEFT", "RIGHT")
    srv("RPOP", "l")
    assert received() == [
        (b"lpush", b"l"), (b"rpush", b"l"), (b"linsert", b"l"),
        (b"lset", b"l"), (b"lrem", b"l"), (b"ltrim", b"l"),
        (b"rpush", b"m"), (b"lpop", b"l"), (b"rpop", b"l")]


def test_lmpop_propagates_as_a_pop_with_the_count_it_popped(srv):
    """LMPOP pops from the first non-empty key and propagates [LR]POP key n
    with n what was actually popped."""
    srv("RPUSH", "b", "1", "2", "3")
    assert srv("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10") == \
        [b"b", [b"3", b"2", b"1"]]
    assert srv.propagated[-1] == [b"RPOP", b"b", b"3"]


def test_lmove_rotates_a_single_list_and_creates_the_destination(srv):
    """LMOVE onto the same key rotates it; onto a new key creates it."""
    srv("RPUSH", "l", "a", "b", "c")
    assert srv("RPOPLPUSH", "l", "l") == b"c"
    assert items(srv, "l") == [b"c", b"a", b"b"]
    assert srv("LMOVE", "l", "new", "LEFT", "RIGHT") == b"c"
    assert items(srv, "new") == [b"c"]
    srv("DEL", "l")
    srv("RPUSH", "one", "x")
    assert srv("LMOVE", "one", "one", "LEFT", "RIGHT") == b"x"
    assert items(srv, "one") == [b"x"]


def test_no_op_writes_are_not_propagated(srv):
    """Commands that change nothing bump no dirty count and propagate
    nothing (LPOP 0, a missing pivot, LREM/LTRIM that remove nothing)."""
    srv("RPUSH", "l", "a", "b")
    srv.recorder.ops.clear()
    dirty = srv.server.dirty
    srv("LPOP", "l", "0")
    srv("LINSERT", "l", "BEFORE", "zz", "v")
    srv("LREM", "l", "0", "zz")
    srv("LTRIM", "l", "0", "-1")
    srv("LPUSHX", "nokey", "v")
    assert srv.server.dirty == dirty
    assert srv.propagated == []


def test_reads_count_keyspace_hits_and_writes_do_not(srv):
    """LRANGE/LLEN/LINDEX/LPOS use lookupKeyRead; pops use lookupKeyWrite."""
    ks = srv.server.keyspace
    srv("RPUSH", "l", "a")
    srv("LRANGE", "l", "0", "-1")
    srv("LLEN", "nokey")
    assert (ks.hits, ks.misses) == (1, 1)
    srv("LPOP", "nokey")
    srv("RPUSH", "l", "b")
    srv("LPOP", "l")
    assert (ks.hits, ks.misses) == (1, 1)


def test_a_push_onto_an_existing_list_breaks_a_watch(srv):
    """Changing a list in place signals WATCHers: their EXEC fails."""
    srv("RPUSH", "l", "a")
    watcher = srv.new_client()
    srv("WATCH", "l", client=watcher)
    srv("RPUSH", "l", "b")
    srv("MULTI", client=watcher)
    srv("LLEN", "l", client=watcher)
    assert srv("EXEC", client=watcher) is NULL_ARRAY


@pytest.mark.parametrize("args", [
    ("LPUSHX", "l", "v"), ("LSET", "l", "0", "v"), ("LREM", "l", "1", "a"),
    ("LINSERT", "l", "AFTER", "a", "v"), ("LTRIM", "l", "1", "-1"),
    ("RPOP", "l"), ("LMOVE", "x", "l", "LEFT", "LEFT"),
], ids=" ".join)
def test_every_in_place_change_breaks_a_watch(srv, args):
    """Each command that edits the list in place signals WATCHers."""
    srv("RPUSH", "l", "a", "b")
    srv("RPUSH", "x", "v")
    watcher = srv.new_client()
    srv("WATCH", "l", client=watcher)
    srv(*args)
    assert watcher.dirty_cas


# -- arithmetic against a model --------------------------------------------------

def model_range(length, start, end):
    """Redis's LRANGE index rules, spelled out on a Python range."""
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = length + end
    end = min(end, length - 1)
    return range(start, end + 1) if start <= end else range(0)


elements = st.lists(st.sampled_from([b"a", b"b", b"c"]), min_size=1, max_size=30)
indexes = st.integers(min_value=-40, max_value=40)


@settings(max_examples=200, deadline=None)
@given(elements, indexes, indexes)
def test_lrange_and_ltrim_match_the_model(values, start, end):
    """LRANGE returns, and LTRIM keeps, exactly the model's range."""
    srv = Harness()
    srv("RPUSH", "l", *values)
    expected = [values[i] for i in model_range(len(values), start, end)]
    assert srv("LRANGE", "l", start, end) == expected
    assert srv("LTRIM", "l", start, end) == OK
    assert items(srv, "l") == expected
    assert srv("EXISTS", "l") == (1 if expected else 0)


@settings(max_examples=200, deadline=None)
@given(elements, st.integers(min_value=-5, max_value=5),
       st.sampled_from([b"a", b"b", b"z"]))
def test_lrem_matches_the_model(values, count, element):
    """LREM removes |count| (all for 0) matches from the head, or from the
    tail when count is negative."""
    srv = Harness()
    srv("RPUSH", "l", *values)
    model = list(values)
    positions = [i for i, v in enumerate(model) if v == element]
    if count < 0:
        positions = positions[::-1]
    doomed = set(positions if count == 0 else positions[:abs(count)])
    expected = [v for i, v in enumerate(model) if i not in doomed]
    assert srv("LREM", "l", count, element) == len(doomed)
    assert items(srv, "l") == expected


@settings(max_examples=200, deadline=None)
@given(elements, st.integers(min_value=-4, max_value=4).filter(bool),
       st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
       st.integers(min_value=0, max_value=8))
def test_lpos_matches_the_model(values, rank, count, maxlen):
    """LPOS: matches scanned from the head (or the tail for a negative
    rank), skipping rank-1, within MAXLEN, up to COUNT (0: all)."""
    srv = Harness()
    srv("RPUSH", "l", *values)
    order = list(range(len(values)))
    if rank < 0:
        order.reverse()
    if maxlen:
        order = order[:maxlen]
    found = [i for i in order if values[i] == b"a"][abs(rank) - 1:]
    args = ["LPOS", "l", "a", "RANK", rank, "MAXLEN", maxlen]
    if count is None:
        assert srv(*args) == (found[0] if found else None)
    else:
        assert srv(*args, "COUNT", count) == (found[:count] if count else found)


@settings(max_examples=100, deadline=None)
@given(elements, st.integers(min_value=-35, max_value=35))
def test_lindex_and_lset_address_the_same_element(values, index):
    """LINDEX reads and LSET writes the element Python's index names, with
    out-of-range as null / "index out of range"."""
    srv = Harness()
    srv("RPUSH", "l", *values)
    inside = -len(values) <= index < len(values)
    assert srv("LINDEX", "l", index) == (values[index] if inside else None)
    reply = srv("LSET", "l", index, "new")
    assert reply == (OK if inside else errors.OUT_OF_RANGE)
    if inside:
        assert srv("LINDEX", "l", index) == b"new"


# -- timeouts ------------------------------------------------------------------

@pytest.mark.parametrize("text, ms", [
    (b"0", 0), (b"1", 1000), (b"0.5", 500), (b"0.001", 1), (b"0.1", 100),
    (b"0.0001", 1), (b"1e-400", 1), (b"-0.0001", 0), (b"-0", 0),
    (b"0x10", 16000), (b"9223372036854775", 0),
])
def test_timeout_seconds_round_up_to_milliseconds_as_redis(text, ms):
    """A timeout is ceil(seconds * 1000) as a long double; a deadline
    past 2**63 ms never fires (0, for ever), as in Redis 7.0."""
    assert parse_timeout_seconds(text, 1_700_000_000_000) == ms


@pytest.mark.parametrize("text, error", [
    (b"abc", errors.TIMEOUT_NOT_FLOAT), (b" 1", errors.TIMEOUT_NOT_FLOAT),
    (b"nan", errors.TIMEOUT_NOT_FLOAT), (b"", errors.TIMEOUT_NOT_FLOAT),
    (b"-1", errors.TIMEOUT_NEGATIVE), (b"inf", errors.TIMEOUT_NEGATIVE),
    (b"-inf", errors.TIMEOUT_NEGATIVE), (b"1e30", errors.TIMEOUT_NEGATIVE),
    (b"9223372036854775807", errors.TIMEOUT_NEGATIVE),
])
def test_bad_timeouts_get_redis_errors(text, error):
    """Unparsable is "not a float"; negative, and anything the C cast
    turns into LLONG_MIN, is "timeout is negative"."""
    with pytest.raises(ReplyError) as caught:
        parse_timeout_seconds(text, 1_700_000_000_000)
    assert caught.value == error


# -- random sequences against a model --------------------------------------------

class ListModel(RuleBasedStateMachine):
    """Random pushes, pops, moves and edits on three keys give the same
    replies and contents as plain Python lists following Redis's rules."""

    keys = st.sampled_from(["a", "b", "c"])
    values = st.sampled_from([b"x", b"y", b"z"])

    def __init__(self):
        super().__init__()
        self.srv = Harness()
        self.model = {}

    def _store(self, key, items):
        if items:
            self.model[key] = items
        else:
            self.model.pop(key, None)

    @rule(key=keys, values=st.lists(values, min_size=1, max_size=4),
          head=st.booleans())
    def push(self, key, values, head):
        items = self.model.get(key, [])
        items = values[::-1] + items if head else items + values
        assert self.srv("LPUSH" if head else "RPUSH", key, *values) == \
            len(items)
        self._store(key, items)

    @rule(key=keys, head=st.booleans(),
          count=st.one_of(st.none(), st.integers(min_value=0, max_value=5)))
    def pop(self, key, head, count):
        items = list(self.model.get(key, []))
        args = ["LPOP" if head else "RPOP", key]
        if count is None:
            expected = (items.pop(0) if head else items.pop()) if items else None
        else:
            args.append(count)
            n = min(count, len(items))
            expected = items[:n] if head else items[::-1][:n]
            items = items[n:] if head else items[:len(items) - n]
            if key not in self.model:
                expected = NULL_ARRAY
        reply = self.srv(*args)
        assert reply == expected or reply is expected
        self._store(key, items)

    @rule(src=keys, dst=keys, from_head=st.booleans(), to_head=st.booleans())
    def lmove(self, src, dst, from_head, to_head):
        reply = self.srv("LMOVE", src, dst, "LEFT" if from_head else "RIGHT",
                         "LEFT" if to_head else "RIGHT")
        if src not in self.model:
            assert reply is None
            return
        items = list(self.model[src])
        element = items.pop(0) if from_head else items.pop()
        self._store(src, items)
        target = list(self.model.get(dst, []))
        target = [element] + target if to_head else target + [element]
        self._store(dst, target)
        assert reply == element

    @rule(key=keys, count=st.integers(min_value=-3, max_value=3), value=values)
    def lrem(self, key, count, value):
        items = list(self.model.get(key, []))
        positions = [i for i, v in enumerate(items) if v == value]
        if count < 0:
            positions.reverse()
        doomed = set(positions if count == 0 else positions[:abs(count)])
        assert self.srv("LREM", key, count, value) == len(doomed)
        self._store(key, [v for i, v in enumerate(items) if i not in doomed])

    @rule(key=keys, pivot=values, value=values, after=st.booleans())
    def linsert(self, key, pivot, value, after):
        reply = self.srv("LINSERT", key, "AFTER" if after else "BEFORE",
                         pivot, value)
        items = list(self.model.get(key, []))
        if not items:
            assert reply == 0
        elif pivot not in items:
            assert reply == -1
        else:
            items.insert(items.index(pivot) + after, value)
            self._store(key, items)
            assert reply == len(items)

    @rule(key=keys, start=st.integers(-5, 5), end=st.integers(-5, 5))
    def ltrim(self, key, start, end):
        items = self.model.get(key, [])
        kept = [items[i] for i in model_range(len(items), start, end)]
        assert self.srv("LTRIM", key, start, end) == OK
        self._store(key, kept)

    @invariant()
    def contents_match(self):
        for key in ("a", "b", "c"):
            expected = self.model.get(key, [])
            assert self.srv("LRANGE", key, 0, -1) == expected
            assert self.srv("EXISTS", key) == (1 if expected else 0)


ListModel.TestCase.settings = settings(max_examples=60,
                                       stateful_step_count=30, deadline=None)
TestListModel = ListModel.TestCase
