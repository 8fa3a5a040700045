"""EVAL / EVALSHA / EVAL_RO / EVALSHA_RO / SCRIPT and the Lua sandbox, on both backends."""

from __future__ import annotations

import hashlib

import pytest
import redis
from tests.helpers import run


def sha(body: str) -> str:
    return hashlib.sha1(body.encode()).hexdigest()


def test_eval_keys_and_args(r: redis.Redis) -> None:
    assert r.eval("return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", 2, "k1", b"\xff", "a", "b") == [b"k1", b"\xff", b"a", 2]
    assert r.eval("return #KEYS", 0) == 0


def test_numkeys_errors(r: redis.Redis) -> None:
    assert run(r, "EVAL", "return 1", -1) == ("error", "Number of keys can't be negative")
    assert run(r, "EVAL", "return 1", 2, "a") == ("error", "Number of keys can't be greater than number of args")
    assert run(r, "EVAL", "return 1", "x") == ("error", "value is not an integer or out of range")
    assert run(r, "EVAL", "return 1") == ("error", "wrong number of arguments for 'eval' command")
    assert run(r, "EVALSHA", "x") == ("error", "wrong number of arguments for 'evalsha' command")


def test_lua_to_reply_conversions(make_client) -> None:
    r = make_client(protocol=2)
    assert r.eval("return 3.99", 0) == 3
    assert r.eval("return -3.99", 0) == -3
    assert r.eval("return {1, 2, nil, 3}", 0) == [1, 2]
    assert r.eval("return {1, {2, {3, 'x'}}, true, false}", 0) == [1, [2, [3, b"x"]], 1, None]
    assert r.eval("return true", 0) == 1
    assert r.eval("return false", 0) is None
    assert r.eval("return nil", 0) is None
    assert r.eval("return {ok='fine'}", 0) == b"fine"
    assert r.eval("return redis.status_reply('GOOD')", 0) == b"GOOD"
    assert r.eval("return 2^63", 0) == -(2**63)
    assert r.eval("return 0/0", 0) == -(2**63)
    assert r.eval("return {double=3.5}", 0) == b"3.5"
    assert r.eval("return {map={a=1}}", 0) == [b"a", 1]
    assert r.eval("return {set={a=true}}", 0) == [b"a"]
    assert r.eval("return 'a\\r\\nb'", 0) == b"a\r\nb"


def test_error_tables(r: redis.Redis) -> None:
    assert run(r, "EVAL", "return {err='My Error'}", 0) == ("error", "My Error")
    assert run(r, "EVAL", "return redis.error_reply('oops')", 0) == ("error", "oops")
    assert run(r, "EVAL", "return redis.error_reply('-X y')", 0) == ("error", "X y")
    assert run(r, "EVAL", "return redis.error_reply(1)", 0) == ("error", "wrong number or type of arguments")
    assert run(r, "EVAL", "return {err='a\\rb\\nc'}", 0) == ("error", "a b c")
    assert r.eval("return {ok='a\\rb'}", 0) == b"a b"


def test_runtime_error_messages(r: redis.Redis) -> None:
    body = "return x"
    assert run(r, "EVAL", body, 0) == (
        "error",
        f"user_script:1: Script attempted to access nonexistent global variable 'x' script: {sha(body)}, on @user_script:1.",
    )
    body = "local a = 1\nx = 1"
    assert run(r, "EVAL", body, 0) == (
        "error", f"user_script:2: Attempt to modify a readonly table script: {sha(body)}, on @user_script:2."
    )
    body = "error('boom')"
    assert run(r, "EVAL", body, 0) == ("error", f"user_script:1: boom script: {sha(body)}, on @user_script:1.")
    body = "error({err='CODE boom'})"
    assert run(r, "EVAL", body, 0) == ("error", f"CODE boom script: {sha(body)}, on @user_script:1.")
    body = "return redis.sha1hex()"
    assert run(r, "EVAL", body, 0) == ("error", f"wrong number of arguments script: {sha(body)}, on @user_script:1.")


def test_compile_errors(r: redis.Redis) -> None:
    assert run(r, "EVAL", "return {1,2", 0) == (
        "error", "Error compiling script (new function): user_script:1: '}' expected near '<eof>'"
    )
    assert run(r, "SCRIPT", "LOAD", "return 1 +") == (
        "error", "Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    )


def test_redis_call_and_pcall(r: redis.Redis) -> None:
    r.set(b"str", b"abc")
    assert r.eval("return redis.call('get', KEYS[1])", 1, "str") == b"abc"
    assert r.eval("return redis.call('GET', 'missing')", 0) is None
    assert r.eval("return type(redis.call('get', 'missing'))", 0) == b"boolean"
    assert r.eval("return redis.call('ping')", 0) == b"PONG"
    assert r.eval("return redis.call('ping').ok", 0) == b"PONG"
    body = "return redis.call('incr', 'str')"
    assert run(r, "EVAL", body, 0) == (
        "error", f"value is not an integer or out of range script: {sha(body)}, on @user_script:1."
    )
    assert run(r, "EVAL", "return redis.pcall('incr', 'str')", 0) == ("error", "value is not an integer or out of range")
    assert r.eval("return redis.pcall('lpush', 'str', 1).err", 0).startswith(b"WRONGTYPE")
    assert r.eval("local ok, e = pcall(redis.call, 'incr', 'str') return e", 0) == (
        b"ERR value is not an integer or out of range"
    )
    assert r.eval("return {1, redis.pcall('incr', 'str'), 3}", 0)[0] == 1


def test_redis_call_number_arguments(r: redis.Redis) -> None:
    script = "redis.call('set', 'n', ARGV[1] == 'a' and 3 or ARGV[1] == 'b' and 3.5 or 0.1) return redis.call('get', 'n')"
    assert r.eval(script, 0, "a") == b"3"
    assert r.eval(script, 0, "b") == b"3.5"
    assert r.eval(script, 0, "c") == b"0.10000000000000001"
    assert r.eval("redis.call('set', 'n', 1e20) return redis.call('get', 'n')", 0) == b"1e+20"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("redis.call('nosuch')", "Unknown Redis command called from script"),
        ("redis.call('config', 'nosuch')", "Unknown Redis command called from script"),
        ("redis.call('get')", "Wrong number of args calling Redis command from script"),
        ("redis.call()", "Please specify at least one argument for this redis lib call"),
        ("redis.call('get', {})", "Lua redis lib command arguments must be strings or integers"),
        ("redis.call('get', nil)", "Lua redis lib command arguments must be strings or integers"),
        ("redis.call('multi')", "This Redis command is not allowed from script"),
        ("redis.call('eval', 'return 1', 0)", "This Redis command is not allowed from script"),
        ("redis.call('script', 'load', 'return 1')", "This Redis command is not allowed from script"),
        ("redis.call('watch', 'a')", "This Redis command is not allowed from script"),
        ("redis.call('client', 'id')", "This Redis command is not allowed from script"),
    ],
)
def test_redis_call_refusals(r: redis.Redis, body: str, message: str) -> None:
    assert run(r, "EVAL", body, 0) == ("error", f"{message} script: {sha(body)}, on @user_script:1.")
    assert run(r, "EVAL", "return " + body.replace("redis.call", "redis.pcall", 1), 0) == ("error", message)


def test_eval_ro(r: redis.Redis) -> None:
    r.set(b"a", b"1")
    assert r.eval_ro("return redis.call('get', KEYS[1])", 1, "a") == b"1"
    body = "return redis.call('set', 'a', 'b')"
    assert run(r, "EVAL_RO", body, 0) == (
        "error", f"Write commands are not allowed from read-only scripts. script: {sha(body)}, on @user_script:1."
    )
    assert r.eval(body, 0) == b"OK"
    r.set(b"a", b"1")
    digest = r.script_load("return redis.call('incr', 'a')")
    assert run(r, "EVALSHA_RO", digest, 0)[0] == "error"
    assert r.evalsha(digest, 0) == 2


def test_shebang(r: redis.Redis) -> None:
    assert r.eval("#!lua\nreturn redis.call('set', 'a', 'b')", 0) == b"OK"
    body = "#!lua flags=no-writes\nreturn redis.call('set','a','b')"
    assert run(r, "EVAL", body, 0) == (
        "error", f"Write commands are not allowed from read-only scripts. script: {sha(body)}, on @user_script:2."
    )
    assert r.eval_ro("#!lua flags=no-writes\nreturn redis.call('get', 'a')", 0) == b"b"
    assert run(r, "EVAL_RO", "#!lua\nreturn 1", 0) == ("error", "Can not execute a script with write flag using *_ro command.")
    assert run(r, "EVAL", "#!lua flags=bad\nreturn 1", 0) == ("error", "Unexpected flag in script shebang: bad")
    assert run(r, "EVAL", "#!luax\nreturn 1", 0) == ("error", "Unexpected engine in script shebang: #!luax")
    assert run(r, "EVAL", "#!lua name=x\nreturn 1", 0) == ("error", "Unknown lua shebang option: name=x")
    assert run(r, "EVAL", "#!lua", 0) == ("error", "Invalid script shebang")
    assert r.eval("#!lua flags=allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1", 0) == 1


def test_script_cache(r: redis.Redis) -> None:
    digest = r.script_load("return 1")
    assert digest == sha("return 1")
    assert r.evalsha(digest, 0) == 1
    assert r.evalsha(digest.upper(), 0) == 1
    assert r.script_exists(digest, digest.upper(), "nope") == [True, True, False]
    assert run(r, "EVALSHA", "abcdef", 0) == ("error", "No matching script. Please use EVAL.")
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("a" * 40, 0)
    r.eval("return 2", 0)
    assert r.script_exists(sha("return 2")) == [True]
    assert r.script_flush("ASYNC") is True
    assert r.script_exists(digest) == [False]
    assert r.script_flush("SYNC") is True
    assert r.script_flush() is True
    assert run(r, "SCRIPT", "FLUSH", "foo") == ("error", "SCRIPT FLUSH only support SYNC|ASYNC option")
    assert run(r, "SCRIPT", "FLUSH", "a", "b") == ("error", "SCRIPT FLUSH only support SYNC|ASYNC option")
    assert run(r, "SCRIPT", "EXISTS") == ("error", "wrong number of arguments for 'script|exists' command")
    assert run(r, "SCRIPT", "NOSUCH") == ("error", "unknown subcommand 'NOSUCH'. Try SCRIPT HELP.")
    assert run(r, "SCRIPT", "KILL") == ("error", "NOTBUSY No scripts in execution right now.")
    assert run(r, "SCRIPT", "DEBUG", "foo") == ("error", "Use SCRIPT DEBUG YES/SYNC/NO")
    assert r.execute_command("SCRIPT", "DEBUG", "NO") == b"OK"
    help_lines = r.execute_command("SCRIPT", "HELP")
    assert help_lines[0] == b"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" and len(help_lines) == 17


def test_register_script(r: redis.Redis) -> None:
    incr_by = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert incr_by(keys=["counter"], args=[5]) == 5
    r.script_flush()
    assert incr_by(keys=["counter"], args=[2]) == 7  # reloaded after NOSCRIPT
    with r.pipeline() as pipe:
        incr_by(keys=["counter"], args=[1], client=pipe)
        assert pipe.execute() == [8]


def test_sandbox(r: redis.Redis) -> None:
    for name in ("os", "io", "loadfile", "dofile", "print", "debug", "require", "setfenv", "getfenv", "module", "newproxy"):
        reply = run(r, "EVAL", f"return type({name})", 0)
        assert reply[0] == "error" and f"nonexistent global variable '{name}'" in reply[1]
    for name in ("load", "loadstring", "pcall", "xpcall", "unpack", "tostring", "gcinfo"):
        assert r.eval(f"return type({name})", 0) == b"function"
    for name in ("redis", "cjson", "bit", "math", "string", "table", "coroutine", "_G"):
        assert r.eval(f"return type({name})", 0) == b"table"
    for body in ("redis.call = nil", "redis = nil", "_G.x = 1", "string.foo = 1", "cjson.x = 1"):
        reply = run(r, "EVAL", body, 0)
        assert reply == ("error", f"user_script:1: Attempt to modify a readonly table script: {sha(body)}, on @user_script:1.")
    body = "rawset(_G, 'x', 1)"
    assert run(r, "EVAL", body, 0) == ("error", f"Attempt to modify a readonly table script: {sha(body)}, on @user_script:1.")
    assert r.eval("local t = {} t.a = 1 return t.a", 0) == 1
    assert r.eval("return loadstring('return 1 + 1')()", 0) == 2
    assert r.eval("local ok, e = pcall(function() return x end) return e", 0) == (
        b"user_script:1: Script attempted to access nonexistent global variable 'x'"
    )
    assert r.eval("return type(redis.call)", 0) == b"function"


def test_redis_helpers(r: redis.Redis) -> None:
    assert r.eval("return redis.sha1hex('')", 0) == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert r.eval("return redis.sha1hex(1)", 0) == b"356a192b7913b04c54574d18c28d46e6395428ab"
    assert r.eval("return redis.log(redis.LOG_WARNING, 'from a test', 1)", 0) is None
    assert run(r, "EVAL", "return redis.log(redis.LOG_WARNING)", 0)[1].startswith("redis.log() requires two arguments or more.")
    assert run(r, "EVAL", "return redis.log('x', 'y')", 0)[1].startswith("First argument must be a number (log level).")
    assert run(r, "EVAL", "return redis.log(99, 'y')", 0)[1].startswith("Invalid debug level.")
    assert r.eval("return redis.set_repl(redis.REPL_ALL)", 0) is None
    assert run(r, "EVAL", "return redis.set_repl(99)", 0)[1].startswith("Invalid replication flags.")
    assert run(r, "EVAL", "return redis.set_repl()", 0)[1].startswith("redis.set_repl() requires two arguments.")
    assert r.eval("return redis.replicate_commands()", 0) == 1
    assert r.eval(
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING,"
        " redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}", 0
    ) == [0, 1, 2, 3, 0, 1, 2, 2, 3]
    assert r.eval("return redis.REDIS_VERSION", 0) == b"7.0.15"
    assert r.eval("return redis.REDIS_VERSION_NUM", 0) == 0x07000F
    assert r.eval("return redis.acl_check_cmd('get', 'x')", 0) == 1
    assert run(r, "EVAL", "return redis.acl_check_cmd('nosuch')", 0)[1].startswith("Invalid command passed to redis.acl_check_cmd()")


def test_setresp(make_client) -> None:
    client = make_client(protocol=2)
    client.hset(b"h", b"f", b"v")
    client.sadd(b"s", b"x")
    assert client.eval("redis.setresp(3) return redis.call('hgetall', 'h')", 0) == [b"f", b"v"]
    assert client.eval("redis.setresp(3) return redis.call('hgetall', 'h').map.f", 0) == b"v"
    assert client.eval("redis.setresp(3) return redis.call('smembers', 's').set.x", 0) == 1
    assert client.eval("redis.setresp(3) return type(redis.call('get', 'missing'))", 0) == b"nil"
    assert client.eval("redis.setresp(3) return true", 0) == 1
    assert client.eval("redis.setresp(3) return false", 0) == 0
    assert run(client, "EVAL", "return redis.setresp(4)", 0)[1].startswith("RESP version must be 2 or 3.")
    assert run(client, "EVAL", "return redis.setresp()", 0)[1].startswith("redis.setresp() requires one argument.")


def test_resp3_caller(make_client) -> None:
    client = make_client(protocol=3)
    assert client.eval("return {double=3.5}", 0) == 3.5
    assert client.eval("return {map={a=1}}", 0) == {b"a": 1}
    assert client.eval("return {set={a=true}}", 0) in ({b"a"}, [b"a"])
    assert client.eval("return true", 0) == 1
    assert client.eval("return false", 0) is None
    assert client.eval("redis.setresp(3) return true", 0) is True
    assert client.eval("redis.setresp(3) return false", 0) is False
    assert client.eval("return {verbatim_string={format='txt', string='hi'}}", 0) == b"hi"


def test_cjson_and_bit(r: redis.Redis) -> None:
    assert r.eval("return cjson.encode({1, 2, 3})", 0) == b"[1,2,3]"
    assert r.eval("return cjson.encode({a = 'x/y'})", 0) == b'{"a":"x\\/y"}'
    assert r.eval("return cjson.encode({})", 0) == b"{}"
    assert r.eval("return cjson.decode('[1,2,{\"a\":3}]')[3].a", 0) == 3
    assert r.eval("return cjson.encode(cjson.decode('{\"a\":[1,2.5,\"x\",null,true]}'))", 0) == (
        b'{"a":[1,2.5,"x",null,true]}'
    )
    assert r.eval("return cjson.decode('[null]')[1] == cjson.null", 0) == 1
    assert r.eval("return {bit.band(7, 3), bit.bor(1, 2), bit.bxor(3, 1), bit.lshift(1, 4), bit.rshift(-1, 28)}", 0) == [
        3, 3, 2, 16, 15
    ]
    assert r.eval("return {bit.tohex(255), bit.tohex(-1, -4), bit.bnot(0), bit.tobit(2^32 + 5)}", 0) == [
        b"000000ff", b"FFFF", -1, 5
    ]


def test_math_random(r: redis.Redis) -> None:
    values = r.eval("local t = {} for i = 1, 20 do t[i] = math.random(5, 8) end return t", 0)
    assert all(5 <= v <= 8 for v in values)
    assert 1 <= r.eval("return math.random(10)", 0) <= 10
    body = "return math.random(0)"
    assert run(r, "EVAL", body, 0) == (
        "error", f"user_script:1: bad argument #1 to 'random' (interval is empty) script: {sha(body)}, on @user_script:1."
    )
    body = "return math.random(1, 2, 3)"
    assert run(r, "EVAL", body, 0) == ("error", f"user_script:1: wrong number of arguments script: {sha(body)}, on @user_script:1.")
    assert r.eval("return math.randomseed(5)", 0) is None


def test_select_in_script_does_not_change_caller(r: redis.Redis) -> None:
    r.set(b"a", b"db0")
    assert r.eval("redis.call('select', 1) redis.call('set', 'a', 'db1') return redis.call('get', 'a')", 0) == b"db1"
    assert r.get(b"a") == b"db0"
    assert r.eval("return redis.call('get', 'a')", 0) == b"db0"


def test_script_is_atomic_and_touches_watchers(make_client) -> None:
    first, second = make_client(), make_client()
    first.execute_command("WATCH", "k")
    second.eval("redis.call('set', 'k', 1)", 0)
    first.execute_command("MULTI")
    assert first.execute_command("EXEC") is None


def test_eval_in_transaction(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        pipe.eval("return redis.call('incr', KEYS[1])", 1, "n")
        pipe.eval("return redis.call('incr', KEYS[1])", 1, "n")
        assert pipe.execute() == [1, 2]


def test_binary_safe(r: redis.Redis) -> None:
    value = b"\x00\xff\xfe\r\n"
    assert r.eval("redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])", 1, b"\xffk", value) == value
    assert r.get(b"\xffk") == value


SCRIPTS = [
    "return x", "x = 1", "return 1.9", "return {1,2,nil,3}", "return {1,{2,{3,'x'}},true,false}",
    "return {err='my error'}", "return {ok='fine'}", "return redis.error_reply('My Error')",
    "return redis.error_reply()", "return redis.status_reply()", "return redis.call('incr', 'str')",
    "return redis.pcall('incr', 'str')", "return redis.call('lpush', 'str', 1)", "return redis.call('nosuch')",
    "return redis.call()", "return redis.call('get', {})", "return redis.call('get', 'str')",
    "return redis.call('lrange', 'lst', 0, -1)", "return redis.call('hgetall', 'h')", "return redis.call('ping')",
    "error('boom')", "error({err='TABLE boom'})", "error('boom', 0)", "error()", "error(123)",
    "redis.setresp(3); return redis.call('hgetall', 'h')", "redis.setresp(3); return {double=3.5}",
    "return {double='x'}", "return {map={a=1}}", "return {set={a=true}}", "return {big_number='123'}",
    "redis.setresp(3); return true", "redis.setresp(3); return false", "return {math.huge, -math.huge}",
    "return 2^64", "return string.format('%d', 3)", "local function f() return x end return f()",
    "return KEYS", "return redis.call('exists', 'str', 'lst', 'nope')", "return redis.call('type', 'h')",
    "return redis.pcall('hget', 'str', 'f')", "return {redis.call('get', 'nope')}", "return cjson.encode({a={1,2}})",
"return redis.call('select', 99)", "return redis.call('incrbyfloat', 'nf', 1.5)",
    "local ok, e = pcall(error, {err='x'}) return e", "return redis.call('set', 'a', 'b', 'EX', 0)",
    "return tostring(nil)", "return #ARGV", "return select('#', 1, 2, 3)", "return unpack({1, 2, 3})",
    "return _G", "local a = {} setmetatable(a, {__index=function() foo() end}) return a",
    "local a = {1, 2} setmetatable(a, {__index=function(t, k) return k end}) return a",
    "return {err=setmetatable({}, {__index=function() return 'x' end})}",
    "setmetatable(_G, {})", "local g = getmetatable(_G) g.__index = {}", "cjson.encode = 1", "bit.lshift = 1",
    "cmsgpack.pack = 1", "redis.call = 1", "return loadstring(string.dump(function() return 1 end))()",
    "local a = {} for i = 1, 7990 do a[i] = 1 end return redis.call('rpush', 'biglist', unpack(a))",
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_differential(pair, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    for client in (embedded, real):
        client.set(b"str", b"abc")
        client.rpush(b"lst", b"a", b"b")
        client.hset(b"h", b"f", b"v")
    for body in SCRIPTS:
        assert run(embedded, "EVAL", body, 0) == run(real, "EVAL", body, 0), body
        assert run(embedded, "EVAL_RO", body, 0) == run(real, "EVAL_RO", body, 0), body
