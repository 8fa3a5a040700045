"""The Memo extension API: custom structures and procedures, in the keyspace and on disk."""

from __future__ import annotations

import importlib.util
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine, ProcedureContext, ReplyError, Structure, add_structure, command, procedure
from redpocket.engine.persistence import PersistenceError, open_persistent_engine, persistence_of
from redpocket.engine.persistence.records import parse_records
from redpocket.engine.structures import add_procedure, pack, to_reply, unpack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py``."""
    spec = importlib.util.spec_from_file_location(f"redpocket_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


FIFO = load_example("fifo").FIFO
suggest_module = load_example("suggest")
Suggest = suggest_module.Suggest


class Bag(Structure):
    """A structure with a random command, logged as its resulting state."""

    type_name = "bag"

    def __init__(self) -> None:
        self.items: list[bytes] = []

    def __len__(self) -> int:
        return len(self.items)

    @command("BAGADD", creates=True, arity=-3)
    def add(self, *items: bytes) -> int:
        self.items.extend(items)
        return len(self.items)

    @command("BAGTAKE", deterministic=False)
    def take(self) -> bytes:
        return self.items.pop(random.randrange(len(self.items)))

    def dump(self) -> bytes:
        return pack(self.items)

    @classmethod
    def load(cls, data: bytes) -> Bag:
        bag = cls()
        bag.items = unpack(data)
        return bag


searches: list[bytes] = []


class SearchCache(Structure):
    """Memo's search cache: a procedure-only holder (no type of its own)."""

    @procedure("SEARCH", first_key=0)
    @staticmethod
    def search(ctx: ProcedureContext, index: bytes, query: bytes) -> Any:
        key = index + b":" + query
        cached = ctx.call("GET", key)
        if cached is None:
            searches.append(query)
            cached = b"results for " + query
            ctx.call("SET", key, cached)
            ctx.call("EXPIRE", key, 60 * 15)
        return cached


@procedure("TRANSFER", arity=4)
def transfer(ctx: ProcedureContext, source: bytes, destination: bytes, amount: bytes) -> int:
    """TRANSFER source destination amount: move an amount between counters atomically."""
    if int(ctx.call("GET", source) or 0) < int(amount):
        raise ReplyError("ERR insufficient funds")
    ctx.call("DECRBY", source, amount)
    return int(ctx.call("INCRBY", destination, amount))


@pytest.fixture
def engine() -> Engine:
    engine = Engine()
    for structure in (FIFO, Suggest, Bag, SearchCache):
        add_structure(engine, structure)
    add_procedure(engine, transfer)
    return engine


@pytest.fixture
def r(engine: Engine) -> EmbeddedRedis:
    return EmbeddedRedis(engine)


# -- commands on the keyspace ------------------------------------------------------------------


def test_fifo_commands(r: EmbeddedRedis) -> None:
    assert r.execute_command("FIFOADD", "q", 1, 2) == 2
    assert r.execute_command("FIFOADD", "q", 3) == 3
    assert r.execute_command("FIFOLEN", "q") == 3
    assert [r.execute_command("FIFOPOP", "q") for _ in range(3)] == [b"1", b"2", b"3"]
    assert r.exists("q") == 0  # an empty structure is deleted, as an empty list is
    assert r.execute_command("FIFOPOP", "q") is None
    assert r.execute_command("FIFOLEN", "q") == 0


def test_arity_is_checked_before_the_method(r: EmbeddedRedis) -> None:
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'fifoadd' command"):
        r.execute_command("FIFOADD", "q")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'fifopop' command"):
        r.execute_command("FIFOPOP", "q", "extra")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'fifolen' command"):
        r.execute_command("FIFOLEN")


def test_wrongtype_both_ways(r: EmbeddedRedis) -> None:
    r.set("string", "v")
    r.execute_command("FIFOADD", "q", "1")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        r.execute_command("FIFOADD", "string", "1")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        r.execute_command("SUGGEST", "q", "word")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        r.get("q")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        r.lpush("q", "x")
    assert r.get("string") == b"v"


def test_structures_are_keyspace_values(r: EmbeddedRedis) -> None:
    r.execute_command("FIFOADD", "q", "1", "2")
    assert r.type("q") == b"fifo"
    assert r.object("encoding", "q") == b"raw"
    assert r.scan(0, _type="fifo") == (0, [b"q"])
    assert r.expire("q", 100)
    assert 0 < r.ttl("q") <= 100
    assert r.rename("q", "q2")
    assert r.ttl("q2") > 0
    assert r.copy("q2", "q3")
    r.execute_command("FIFOPOP", "q3")
    assert r.execute_command("FIFOLEN", "q2") == 2  # the copy is independent
    assert r.execute_command("FIFOLEN", "q3") == 1
    assert r.move("q3", 1)
    assert EmbeddedRedis(r.engine, db=1).execute_command("FIFOLEN", "q3") == 1
    assert r.delete("q2") == 1
    assert r.keys() == []


def test_expired_structures_are_gone(r: EmbeddedRedis) -> None:
    import time

    r.execute_command("FIFOADD", "q", "1")
    r.pexpire("q", 10)
    time.sleep(0.03)
    assert r.execute_command("FIFOLEN", "q") == 0
    assert r.execute_command("FIFOADD", "q", "2") == 1  # a new one


def test_writes_touch_watched_keys(r: EmbeddedRedis, engine: Engine) -> None:
    r.execute_command("FIFOADD", "q", "1")
    with r.pipeline() as pipe:
        pipe.watch("q")
        EmbeddedRedis(engine).execute_command("FIFOADD", "q", "2")
        pipe.multi()
        pipe.execute_command("FIFOLEN", "q")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    with r.pipeline() as pipe:
        pipe.watch("q")
        EmbeddedRedis(engine).execute_command("FIFOLEN", "q")  # a read does not
        pipe.multi()
        pipe.execute_command("FIFOLEN", "q")
        assert pipe.execute() == [2]


def test_commands_appear_in_command_info(engine: Engine) -> None:
    session = engine.session()
    info = engine.execute(session, [b"COMMAND", b"INFO", b"fifoadd", b"fifolen", b"search"])
    assert info[0][:2] == [b"fifoadd", -3] and info[0][3:6] == [1, 1, 1]
    assert set(info[0][2]) == {b"write", b"module"}
    assert set(info[1][2]) == {b"readonly", b"fast", b"module"}
    assert info[2][1] == 3
    assert b"fifoadd" in engine.execute(session, [b"COMMAND", b"LIST"])
    other = Engine()
    assert b"fifoadd" not in other.execute(other.session(), [b"COMMAND", b"LIST"])


def test_commands_are_per_engine(r: EmbeddedRedis) -> None:
    with pytest.raises(redis.ResponseError, match="unknown command 'FIFOADD'"):
        EmbeddedRedis(Engine()).execute_command("FIFOADD", "q", "1")


def test_registration_conflicts(engine: Engine) -> None:
    add_structure(engine, FIFO)  # the same class again: nothing to do

    class OtherFIFO(FIFO):
        pass

    with pytest.raises(ValueError, match="type name 'fifo' is already taken"):
        add_structure(engine, OtherFIFO)

    class Renamed(FIFO):
        type_name = "fifo2"

    with pytest.raises(ValueError, match="'FIFOADD' already exists"):
        add_structure(engine, Renamed)

    class Strings(Structure):
        type_name = "string"

        @command("STRINGTHING")
        def thing(self) -> int:
            return 1

    with pytest.raises(ValueError, match="type name 'string' is already taken"):
        add_structure(Engine(), Strings)

    class Clash(Structure):
        type_name = "clash"

        @command("GET")
        def get(self) -> int:
            return 1

    with pytest.raises(ValueError, match="'GET' already exists"):
        add_structure(Engine(), Clash)


def test_arity_from_the_signature() -> None:
    class Sig(Structure):
        type_name = "sig"

        @command("SIGFIXED")
        def fixed(self, a: bytes, b: bytes) -> int:
            return 1

        @command("SIGVAR")
        def var(self, a: bytes, *rest: bytes) -> int:
            return 1

    engine = Engine()
    add_structure(engine, Sig)
    assert engine.commands[b"sigfixed"].arity == 4
    assert engine.commands[b"sigvar"].arity == -3


def test_suggest(r: EmbeddedRedis) -> None:
    assert r.execute_command("SUGGESTADD", "words", "python", "python", "pythons", "typhoon", "redis") == 4
    assert r.execute_command("SUGGEST", "words", "pyhton") == [b"python"]  # a transposition is 2 edits
    assert r.execute_command("SUGGEST", "words", "pythn") == [b"python", b"pythons"]
    assert r.execute_command("SUGGEST", "words", "pythom", "DISTANCE", "1") == [b"python"]
    assert r.execute_command("SUGGEST", "words", "pythn", "COUNT", "1") == [b"python"]
    assert r.execute_command("SUGGEST", "words", "PYTHON", "DISTANCE", "0") == [b"python"]
    assert r.execute_command("SUGGEST", "words", "redys") == [b"redis"]
    assert r.execute_command("SUGGEST", "nothing", "redys") == []
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SUGGEST", "words", "x", "COUNT")


def test_edit_distance() -> None:
    distance = suggest_module.edit_distance
    assert distance(b"kitten", b"sitting", 5) == 3
    assert distance(b"kitten", b"sitting", 2) == 3  # stops past the limit
    assert distance(b"", b"abc", 3) == 3


# -- procedures ---------------------------------------------------------------------------------


def test_search_cache_procedure(r: EmbeddedRedis) -> None:
    searches.clear()
    assert r.execute_command("SEARCH", "books", "dune") == b"results for dune"
    assert r.execute_command("SEARCH", "books", "dune") == b"results for dune"
    assert searches == [b"dune"]
    assert 0 < r.ttl("books:dune") <= 900


def test_procedure_errors_and_atomicity(r: EmbeddedRedis) -> None:
    r.set("alice", 10)
    assert r.execute_command("TRANSFER", "alice", "bob", 4) == 4
    with pytest.raises(redis.ResponseError, match="insufficient funds"):
        r.execute_command("TRANSFER", "alice", "bob", 40)
    assert r.mget("alice", "bob") == [b"6", b"4"]


def test_procedures_cannot_run_transactions(engine: Engine) -> None:
    @procedure("NESTED")
    def nested(ctx: ProcedureContext) -> Any:
        return [ctx.pcall("MULTI"), ctx.pcall("NOSUCH"), ctx.pcall("SELECT", 2), ctx.db]

    add_procedure(engine, nested)
    session = engine.session()
    reply = engine.execute(session, [b"NESTED"])
    assert reply[0] == ReplyError("ERR This Redis command is not allowed from script")
    assert reply[1].message.startswith("ERR unknown command 'NOSUCH'")
    assert reply[3] == 2
    assert session.db.index == 0  # the caller's database is restored


def test_to_reply() -> None:
    assert to_reply("text") == b"text"
    assert to_reply(True) == 1
    assert to_reply([1, "a", None, (2.5,)]) == [1, b"a", None, [b"2.5"]]
    assert to_reply({"a": 1}, 3) == {b"a": 1}
    assert to_reply({"a": 1}, 2) == [b"a", 1]
    with pytest.raises(TypeError):
        to_reply(object())


def test_pack_round_trips() -> None:
    items = [b"", b"a:b", b"\x00" * 3, b"12:"]
    assert unpack(pack(items)) == items
    with pytest.raises(ValueError):
        unpack(b"5:abc")
    with pytest.raises(ValueError):
        unpack(b"x:abc")


# -- persistence -----------------------------------------------------------------------------------


@pytest.fixture
def persistent(tmp_path: Path) -> Iterator[Any]:
    opened: list[Engine] = []

    def open_(**options: Any) -> tuple[Engine, EmbeddedRedis]:
        engine = open_persistent_engine(tmp_path, structures=[FIFO, Suggest, Bag, SearchCache], **options)
        opened.append(engine)
        return engine, EmbeddedRedis(engine)

    yield open_
    for engine in opened:
        persistence = persistence_of(engine)
        if persistence is not None:
            persistence.close()


def close(engine: Engine) -> None:
    persistence = persistence_of(engine)
    assert persistence is not None
    persistence.close()


def state(r: EmbeddedRedis) -> dict[bytes, Any]:
    found = {}
    for key in sorted(r.keys()):
        value = r.engine.databases[0].data[key]
        found[key] = (r.type(key), value.dump() if isinstance(value, Structure) else value, r.pexpiretime(key))
    return found


def fill(r: EmbeddedRedis) -> None:
    r.execute_command("FIFOADD", "q", "a", "b", "c")
    r.execute_command("FIFOPOP", "q")
    r.execute_command("FIFOADD", "ttl-q", "x")
    r.expire("ttl-q", 100)
    r.execute_command("SUGGESTADD", "words", "python", "pyton", "python")
    r.execute_command("BAGADD", "bag", *range(20))
    for _ in range(5):
        r.execute_command("BAGTAKE", "bag")
    r.execute_command("SEARCH", "idx", "query")


def test_structures_replay_from_the_append_only_file(persistent: Any, tmp_path: Path) -> None:
    engine, r = persistent(appendfsync="always")
    fill(r)
    expected = state(r)
    close(engine)
    (current,) = (tmp_path / "appendonlydir").glob("*.aof")  # no rewrite yet: one part, commands only
    logged = [argv for _o, _e, argv in parse_records(current.read_bytes())]
    assert [b"FIFOPOP", b"q"] in logged
    assert any(argv[0] == b"REDPOCKET.RESTORE" and argv[1] == b"bag" for argv in logged)  # BAGTAKE's state
    assert not any(argv[0] == b"BAGTAKE" for argv in logged)
    assert not any(argv[0] == b"SEARCH" for argv in logged)  # logged as its writes, in MULTI/EXEC
    multi = logged.index([b"MULTI"])
    assert logged[multi + 1][:2] == [b"SET", b"idx:query"] and logged[multi + 3] == [b"EXEC"]
    engine, r = persistent()
    assert state(r) == expected
    assert r.execute_command("SUGGEST", "words", "pythn") == [b"python", b"pyton"]


def test_structures_round_trip_through_rewrite_and_snapshot(persistent: Any, tmp_path: Path) -> None:
    engine, r = persistent(appendfsync="always")
    fill(r)
    r.bgrewriteaof()
    persistence_of(engine).aof.rewrite_thread.join()  # type: ignore[union-attr]
    r.execute_command("FIFOADD", "q", "tail")
    r.execute_command("SAVE")
    expected = state(r)
    close(engine)
    engine, r = persistent()
    assert state(r) == expected
    close(engine)
    shutil.rmtree(tmp_path / "appendonlydir")
    engine, r = persistent(appendonly=False)  # the snapshot alone
    assert state(r) == expected


def test_a_file_needs_its_structures_registered(persistent: Any, tmp_path: Path) -> None:
    engine, r = persistent(appendfsync="always")
    r.execute_command("FIFOADD", "q", "a")
    close(engine)
    with pytest.raises(PersistenceError, match="unknown command 'FIFOADD'"):
        open_persistent_engine(tmp_path)
    engine, r = persistent()
    r.bgrewriteaof()
    persistence_of(engine).aof.rewrite_thread.join()  # type: ignore[union-attr]
    close(engine)
    with pytest.raises(PersistenceError, match=r"unknown structure type 'fifo'.*at offset"):
        open_persistent_engine(tmp_path)


def test_restore_command(r: EmbeddedRedis) -> None:
    with pytest.raises(redis.ResponseError, match="unknown structure type 'nope'"):
        r.execute_command("REDPOCKET.RESTORE", "k", "nope", "")
    with pytest.raises(redis.ResponseError, match="cannot load a 'fifo' value"):
        r.execute_command("REDPOCKET.RESTORE", "k", "fifo", "9:abc")
    r.execute_command("FIFOADD", "k", "old")
    r.expire("k", 100)
    r.execute_command("REDPOCKET.RESTORE", "k", "fifo", pack([b"new"]))
    assert r.execute_command("FIFOPOP", "k") == b"new"


def test_scripts_can_call_structure_commands(r: EmbeddedRedis, engine: Engine) -> None:
    if b"eval" not in engine.commands:
        pytest.skip("scripting not landed")
    assert r.eval("redis.call('FIFOADD', KEYS[1], 'x'); return redis.call('FIFOLEN', KEYS[1])", 1, "q") == 1
