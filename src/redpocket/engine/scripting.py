"""The Lua runtime behind EVAL: a sandboxed Lua 5.1 (through ``lupa``) speaking Redis 7.0.

One :class:`ScriptRuntime` per engine (``engine._lua``, made on first use)
holds the Lua state, the compiled scripts by SHA1 and a dedicated script
client, like Redis's ``lua_client``: commands a script runs see its own
protocol (RESP2 until ``redis.setresp(3)``) and its own ``SELECT``, never
the caller's.

The sandbox follows ``script_lua.c``: the globals are read-only (Redis
patches Lua for that; here scripts see a proxy table whose ``__newindex``
refuses), reading an unknown global is an error, and ``os``, ``io``,
``loadfile``, ``dofile``, ``print``, ``debug``, ``setfenv`` / ``getfenv``
are absent.  Errors come out as Redis formats them:
``ERR user_script:1: ... script: <sha>, on @user_script:1.``
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from typing import TYPE_CHECKING, Any, Final

from lupa import lua51

from .keyspace import now_ms
from .registry import CommandSpec
from .replies import NULL_ARRAY, ReplyError, SetReply, SimpleString, VerbatimReply, double_reply
from .session import Session

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("redpocket.lua")

REDIS_VERSION = b"7.0.15"
REDIS_VERSION_NUM = 0x0007000F
INT64_MIN = -(2**63)
SCRIPT_FLAGS = frozenset({b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys"})
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)
_lua_type = lua51.lua_type

# The sandbox, built once per runtime.  ``py`` carries the Python helpers.
_BOOTSTRAP = r"""
local py = ...
local type, error, tostring, select, unpack = type, error, tostring, select, unpack
local setmetatable, rawget, rawset, next, ipairs = setmetatable, rawget, rawset, next, ipairs
local setfenv, loadstring, load, xpcall, pcall, newproxy = setfenv, loadstring, load, xpcall, pcall, newproxy
local getinfo = debug.getinfo
local unwrap = py.unwrap

local readonly = setmetatable({}, {__mode = "k"})   -- proxy -> protected table
local function refuse() error("Attempt to modify a readonly table", 2) end
local function protect(t)
  local proxy = setmetatable({}, {__index = t, __newindex = refuse, __metatable = false})
  readonly[proxy] = t
  return proxy
end
local function real(t) return readonly[t] or t end
local function copy(t) local c = {} for k, v in next, t do c[k] = v end return c end

local G = {}
local env = setmetatable({}, {__index = G, __newindex = refuse, __metatable = false})
readonly[env] = G
setmetatable(G, {__index = function(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end})

for _, name in ipairs({"xpcall", "tostring", "setmetatable", "assert", "tonumber", "rawequal",
                       "collectgarbage", "getmetatable", "select", "gcinfo", "error", "_VERSION"}) do
  G[name] = _G[name]
end
G._G = env
-- The Python helpers are userdata to Lua; scripts must see functions.
local callables = setmetatable({}, {__mode = "k"})
G.type = function(v)
  local t = type(v)
  if t == "userdata" and callables[v] then return "function" end
  return t
end
G.next = function(t, k) return next(real(t), k) end
G.pairs = function(t) return G.next, t, nil end
G.ipairs = function(t) return ipairs(real(t)) end
G.rawget = function(t, k) return rawget(real(t), k) end
G.rawset = function(t, k, v)
  if readonly[t] then error("Attempt to modify a readonly table", 0) end
  return rawset(t, k, v)
end
G.unpack = function(t, i, j) return unpack(real(t), i, j) end
G.loadstring = function(s, name)
  local f, e = loadstring(s, name)
  if f then setfenv(f, env) end
  return f, e
end
G.load = function(f, name)
  local g, e = load(f, name)
  if g then setfenv(g, env) end
  return g, e
end
-- Redis's pcall hands back the message of an {err=...} error, not the table.
local function pcall_result(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == "userdata" then e = unwrap(e) end
  if type(e) == "table" then
    local m = e.err
    if type(m) == "string" or type(m) == "number" then e = m end
  end
  return false, e
end
G.pcall = function(f, ...) return pcall_result(pcall(f, ...)) end
G.coroutine = protect(copy(coroutine))
G.string = protect(string)
G.table = protect(table)
local math_ = copy(math)
math_.random, math_.randomseed = py.random, py.randomseed
G.math = protect(math_)
G.cjson = protect({encode = py.json_encode, decode = py.json_decode, null = py.null})
G.bit = protect(py.bit)

local redis = {}
for _, name in ipairs({"call", "pcall", "sha1hex", "log", "setresp", "set_repl", "acl_check_cmd"}) do
  redis[name] = py[name]
end
local function error_table(buffer)
  local code, message = "ERR", buffer:sub(2)
  local space = buffer:find(" ", 1, true)
  if space then code, message = buffer:sub(2, space - 1), buffer:sub(space + 1) end
  message = message:gsub("^[\r\n]+", ""):gsub("[\r\n]+$", "")
  return {err = code .. " " .. message}
end
redis.error_reply = function(...)
  local e = ...
  if select("#", ...) ~= 1 or type(e) ~= "string" then return {err = "ERR wrong number or type of arguments"} end
  if e:sub(1, 1) ~= "-" then e = "-" .. e end
  return error_table(e)
end
redis.status_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then return {err = "ERR wrong number or type of arguments"} end
  return {ok = s}
end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = py.version, py.version_num
G.redis = protect(redis)
for _, library in ipairs({redis, math_, py.bit}) do
  for _, v in next, library do
    if type(v) == "userdata" then callables[v] = true end
  end
end
callables[py.json_encode], callables[py.json_decode] = true, true

-- The first frame that is neither C nor this sandbox: the script's own code.
local function script_frame(level)
  while true do
    local info = getinfo(level, "Sl")
    if info == nil then return nil end
    if info.what ~= "C" and info.source ~= "=sandbox" and info.currentline > 0 then return info end
    level = level + 1
  end
end
-- luaL_where for errors raised by the Python helpers.
local function where()
  local info = script_frame(3)
  if info == nil then return "" end
  return info.short_src .. ":" .. info.currentline .. ": "
end
-- Redis's __redis__err__handler: turn any error into {err=, source=, line=}.
local function handler(err)
  if type(err) == "userdata" then err = unwrap(err) end
  local info = script_frame(3)
  if type(err) ~= "table" then err = {err = "ERR " .. tostring(err)} end
  if info then err.source, err.line = info.source, info.currentline end
  return err
end
G.__redis__err__handler = handler

local function compile(body)
  local f, e = loadstring(body, "@user_script")
  if not f then return nil, e end
  setfenv(f, env)
  return f, false
end
local function run(f, keys, argv)
  rawset(G, "KEYS", keys)
  rawset(G, "ARGV", argv)
  local ok, result = xpcall(f, handler)
  return ok, result
end
-- run(), with the keys and arguments passed as Lua call arguments: quicker than two tables built from Python
local function run_spread(f, nkeys, ...)
  local all, keys, argv = {...}, {}, {}
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, select("#", ...) do argv[i - nkeys] = all[i] end
  return run(f, keys, argv)
end
return compile, run, run_spread, where
"""


# Up to this many keys and arguments travel to a script as Lua call arguments.
_SPREAD_LIMIT: Final = 200
# The field of an error table saying its error is already in INFO errorstats.
_COUNTED: Final = b"ignore_error_stats_update"


def sha1_hex(body: bytes) -> bytes:
    """Return the lower-case hex SHA1 of ``body`` (a script's name in the cache)."""
    return hashlib.sha1(body).hexdigest().encode()


def _to_integer(number: float) -> int:
    """Convert a Lua number to a reply integer as C's ``(long long)`` cast does on x86-64."""
    if number != number or number >= 9.2233720368547758e18 or number < -9.2233720368547758e18:
        return INT64_MIN
    return int(number)


def parse_shebang(body: bytes) -> tuple[int, frozenset[bytes] | None]:
    """Return ``(shebang length, flags)``; flags is ``None`` for a script without shebang (eval compat mode)."""
    if not body.startswith(b"#!"):
        return 0, None
    end = body.find(b"\n")
    if end < 0:
        raise ReplyError("ERR Invalid script shebang")
    parts = body[:end].split()
    if not parts or parts[0] != b"#!lua":
        engine_name = parts[0].decode("utf-8", "replace") if parts else "#!"
        raise ReplyError(f"ERR Unexpected engine in script shebang: {engine_name}")
    flags: set[bytes] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise ReplyError(f"ERR Unknown lua shebang option: {part.decode('utf-8', 'replace')}")
        for flag in part[6:].split(b",") if part[6:] else ():
            if flag not in SCRIPT_FLAGS:
                raise ReplyError(f"ERR Unexpected flag in script shebang: {flag.decode('utf-8', 'replace')}")
            flags.add(flag)
    return end, frozenset(flags)


class ScriptError(Exception):
    """Raised by a Python helper to raise a Lua error (a message, or an ``{err=...}`` table)."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value


class Script:
    """A compiled script: its Lua function and its shebang flags."""

    __slots__ = ("flags", "function", "sha")

    def __init__(self, sha: bytes, function: Any, flags: frozenset[bytes] | None) -> None:
        self.sha = sha
        self.function = function
        self.flags = flags


class ScriptRuntime:
    """One engine's Lua state, script cache and script client."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lua = lua51.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False, unpack_returned_tuples=True
        )
        self.table_from = self.lua.table_from
        self.client = Session(engine, 0, "lua")
        self.client.in_script = True
        self.caller = self.client  # the session running the current script (ACL checks are its user's)
        self.compiled: dict[bytes, Script] = {}
        self.read_only = False
        self.random = random.Random()
        self.null = self.lua.eval("newproxy(false)")
        helpers = self.table_from({
            b"unwrap": _unwrap,
            b"call": self._call,
            b"pcall": self._pcall,
            b"sha1hex": self._sha1hex,
            b"log": self._log,
            b"setresp": self._setresp,
            b"set_repl": self._set_repl,
            b"acl_check_cmd": self._acl_check,
            b"random": self._random,
            b"randomseed": self._randomseed,
            b"json_encode": self._json_encode,
            b"json_decode": self._json_decode,
            b"null": self.null,
            b"bit": self.table_from(_bit_library()),
            b"version": REDIS_VERSION,
            b"version_num": REDIS_VERSION_NUM,
        })
        self._compile, self._run, self._run_spread, self._where = self.lua.execute(
            _BOOTSTRAP, helpers, name="=sandbox")
        rawequal = self.lua.eval("rawequal")
        null = self.null
        self._is_null = lambda value: rawequal(value, null)

    # -- the cache ------------------------------------------------------------
    def load(self, body: bytes, sha: bytes | None = None) -> Script:
        """Compile ``body`` (or return its cached compilation) and keep it in ``engine.scripts``."""
        if sha is None:
            sha = sha1_hex(body)
        script = self.compiled.get(sha)
        if script is not None:
            return script
        length, flags = parse_shebang(body)
        function, error = self._compile(body[length:])
        if function is None:
            message = _text(error).replace("\r", " ").replace("\n", " ")
            raise ReplyError(f"ERR Error compiling script (new function): {message}")
        script = Script(sha, function, flags)
        self.compiled[sha] = script
        self.engine.scripts[sha] = body
        return script

    def lookup(self, sha: bytes) -> Script | None:
        """Return the compiled script named ``sha`` (any case), or ``None``."""
        sha = sha.lower()
        script = self.compiled.get(sha)
        if script is None:
            body = self.engine.scripts.get(sha)
            if body is not None:
                script = self.load(body, sha)
        return script

    def flush(self) -> None:
        """Forget every script (SCRIPT FLUSH)."""
        self.compiled.clear()
        self.engine.scripts.clear()
        self.random.seed()

    # -- running -----------------------------------------------------------------
    def run(self, session: Session, script: Script, keys: list[bytes], args: list[bytes], read_only: bool) -> Any:
        """Run ``script`` for ``session`` and return its reply (atomically, under the engine lock)."""
        flags = script.flags
        if flags is not None:
            if read_only and b"no-writes" not in flags:
                raise ReplyError("ERR Can not execute a script with write flag using *_ro command.")
            read_only = read_only or b"no-writes" in flags
        client = self.client
        with self.engine.lock:
            client.db = session.db
            client.protocol = 2
            client.user, client.restricted, self.caller = session.user, session.restricted, session
            self.read_only = read_only
            outer = session.in_script
            session.in_script = True
            engine_frozen = self.engine.frozen_ms
            if engine_frozen is None:  # keys expire as of the script's start (Redis's scriptTimeSnapshot)
                self.engine.frozen_ms = now_ms()
            try:
                if len(keys) + len(args) <= _SPREAD_LIMIT:
                    ok, result = self._run_spread(script.function, len(keys), *keys, *args)
                else:  # (more than a Lua call takes)
                    ok, result = self._run(script.function, self.table_from(keys), self.table_from(args))
            finally:
                self.engine.frozen_ms = engine_frozen
                session.in_script = outer
        if not ok:
            counted = _lua_type(result) == "table" and bool(result[_COUNTED])
            raise ReplyError(self._error_message(result, script.sha), counted=counted)
        return self.to_reply(result, session.protocol)

    def _error_message(self, error: Any, sha: bytes) -> str:
        if _lua_type(error) != "table":
            return f"ERR Error running script {sha.decode()}, {_text(error)[:100]}"
        message = error[b"err"]
        text = _text(message) if message is not None else "ERR unknown error"
        source, line = error[b"source"], error[b"line"]
        if source is not None and line is not None:
            text += f" script: {sha.decode()}, on {_text(source)}:{_text(line)}."
        return text.replace("\r", " ").replace("\n", " ")

    # -- Lua -> reply ----------------------------------------------------------------
    def to_reply(self, value: Any, protocol: int) -> Any:
        """Convert a script's Lua result to a reply for a client of ``protocol`` (luaReplyToRedisReply)."""
        kind = type(value)
        if kind is bytes:
            return value
        if kind is int:
            return value if INT64_MIN <= value < 2**63 else INT64_MIN
        if kind is float:
            return _to_integer(value)
        if kind is bool:
            if self.client.protocol == 2:
                return 1 if value else None
            if protocol == 3:
                return value
            return 1 if value else 0
        if value is None or _lua_type(value) != "table":
            return None
        field = value[b"err"]
        if type(field) is bytes:
            text = field.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")
            return ReplyError(text, counted=bool(value[_COUNTED]))
        field = value[b"ok"]
        if type(field) is bytes:
            return SimpleString(field.replace(b"\r", b" ").replace(b"\n", b" "))
        field = value[b"double"]
        if type(field) is int or type(field) is float:
            return double_reply(protocol, float(field))
        field = value[b"big_number"]
        if type(field) is bytes:
            # RESP3 big number; redis-py hands it over as the bulk of digits.
            return field.replace(b"\r", b" ").replace(b"\n", b" ")
        field = value[b"verbatim_string"]
        if field is not None and _lua_type(field) == "table":
            text, form = field[b"string"], field[b"format"]
            if type(text) is bytes and type(form) is bytes:
                return VerbatimReply(text) if protocol == 3 else text
        field = value[b"map"]
        if field is not None and _lua_type(field) == "table":
            flat: list[Any] = []
            for key, item in field.items():
                flat.append(self.to_reply(key, protocol))
                flat.append(self.to_reply(item, protocol))
            if protocol == 3:
                return {_hashable(k): v for k, v in zip(flat[::2], flat[1::2], strict=True)}
            return flat
        field = value[b"set"]
        if field is not None and _lua_type(field) == "table":
            members = [self.to_reply(key, protocol) for key in field]
            return SetReply(members) if protocol == 3 else members
        out: list[Any] = []
        index = 1
        while True:
            item = value[index]
            if item is None:
                return out
            out.append(self.to_reply(item, protocol))
            index += 1

    # -- reply -> Lua --------------------------------------------------------------------
    def to_lua(self, reply: Any) -> Any:
        """Convert a command reply to the Lua value ``redis.call`` returns (redisProtocolToLuaType)."""
        kind = type(reply)
        if kind is bytes or kind is int:
            return reply
        if kind is SimpleString:
            return self.table_from({b"ok": bytes(reply)})
        if kind is list:
            return self.table_from([self.to_lua(item) for item in reply])
        if reply is None or reply is NULL_ARRAY:
            return False if self.client.protocol == 2 else None
        if kind is ReplyError:
            return self.error_table(reply.message, counted=True)  # (the command that failed counted it)
        if kind is bool:
            return reply
        if kind is float:
            return self.table_from({b"double": reply})
        if kind is dict:
            table = self.lua.table()
            for key, item in reply.items():
                table[self.to_lua(key)] = self.to_lua(item)
            return self.table_from({b"map": table})
        if kind is SetReply:
            return self.table_from({b"set": self.table_from({self.to_lua(m): True for m in reply})})
        if kind is VerbatimReply:
            if self.client.protocol == 2:
                return bytes(reply)
            inner = self.table_from({b"string": bytes(reply), b"format": b"txt"})
            return self.table_from({b"verbatim_string": inner})
        if isinstance(reply, bytes):
            return bytes(reply)
        return None

    def error_table(self, message: str, counted: bool = False) -> Any:
        """Build the ``{err=...}`` table Redis pushes for the error reply ``message`` (luaPushErrorBuff).

        ``counted``: the error is already in INFO errorstats, so the script
        passing it on must not count it again (Redis's ``ignore_error_stats_update``).
        """
        code, space, text = message.partition(" ")
        if not space:
            code, text = "ERR", message
        fields: dict[bytes, Any] = {b"err": f"{code} {text.strip(chr(13) + chr(10))}".encode()}
        if counted:
            fields[_COUNTED] = True
        return self.table_from(fields)

    def _fail(self, message: str) -> ScriptError:
        """Return the error ``luaPushError(message); luaError()`` raises: an ``{err="ERR ..."}`` table."""
        return ScriptError(self.table_from({b"err": b"ERR " + message.encode()}))

    def _fail_here(self, message: str) -> ScriptError:
        """Return the error ``luaL_error`` raises: the message prefixed with the caller's position."""
        return ScriptError(self._where() + message.encode())

    # -- helpers called from Lua ---------------------------------------------------------
    def _command_reply(self, args: tuple[Any, ...]) -> Any:
        if not args:
            return self.error_table("ERR Please specify at least one argument for this redis lib call")
        argv: list[bytes] = []
        for arg in args:
            kind = type(arg)
            if kind is bytes:
                argv.append(arg)
            elif kind is int:
                argv.append(b"%d" % arg if -(2**53) <= arg <= 2**53 else b"%.17g" % arg)
            elif kind is float:
                argv.append(b"%.17g" % arg)
            else:
                return self.error_table("ERR Lua redis lib command arguments must be strings or integers")
        spec = self._command(argv)
        if type(spec) is ReplyError:
            return self._refused(spec.message, self.engine.named_spec(argv))
        if self.client.restricted:  # the caller's ACL user may not run everything
            from .acl import users

            denied = users(self.engine).denied_in_script(self.caller, spec, argv)  # type: ignore[arg-type]
            if denied is not None:
                return self._refused(denied, spec)  # type: ignore[arg-type]
        return self.engine.call(self.client, spec, argv)  # type: ignore[arg-type]

    def _refused(self, text: str, spec: CommandSpec | None) -> Any:
        """Count a command the script may not run as a rejected call (Redis's scriptCall), and return its error table."""
        self.engine.count_error(text)
        if spec is not None:
            spec.rejected_calls += 1
        return self.error_table(text, counted=True)

    def _call(self, *args: Any) -> Any:
        reply = self._command_reply(args)
        kind = type(reply)
        if kind is bytes or kind is int:  # most replies: nothing to convert or check
            return reply
        if kind is ReplyError:
            raise ScriptError(self.error_table(reply.message, counted=True))
        if _lua_type(reply) == "table":  # an error found before running the command
            raise ScriptError(reply)
        return self.to_lua(reply)

    def _pcall(self, *args: Any) -> Any:
        reply = self._command_reply(args)
        if _lua_type(reply) == "table":
            return reply
        return self.to_lua(reply)

    def _command(self, argv: list[bytes]) -> CommandSpec | ReplyError:
        spec = self.engine.commands.get(argv[0].lower())
        if spec is not None and spec.subcommands and len(argv) > 1:
            spec = spec.subcommands.get(argv[1].lower())
        if spec is None:
            return ReplyError("ERR Unknown Redis command called from script")
        if not spec.arity_ok(len(argv)):
            return ReplyError("ERR Wrong number of args calling Redis command from script")
        flags = spec.flags
        if "noscript" in flags:
            return ReplyError("ERR This Redis command is not allowed from script")
        if self.read_only and "write" in flags:
            return ReplyError("ERR Write commands are not allowed from read-only scripts.")
        return spec

    def _acl_check(self, *args: Any) -> bool:
        if not args:
            raise self._fail("Please specify at least one argument for this redis lib call")
        if any(type(a) not in (bytes, int, float) for a in args):
            raise self._fail("Lua redis lib command arguments must be strings or integers")
        argv = [a if type(a) is bytes else b"%.17g" % a for a in args]
        spec = self.engine.commands.get(argv[0].lower())
        if spec is not None and spec.subcommands and len(argv) > 1:
            spec = spec.subcommands.get(argv[1].lower())
        if spec is None:
            raise self._fail("Invalid command passed to redis.acl_check_cmd()")
        if self.client.restricted:
            from .acl import users

            return users(self.engine).user_of(self.caller).check(spec, argv)[0] == 0
        return True

    def _sha1hex(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._fail("wrong number of arguments")
        value = args[0]
        if type(value) is not bytes:
            value = _lua_tostring(value) or b""
        return sha1_hex(value)

    def _log(self, *args: Any) -> None:
        if len(args) < 2:
            raise self._fail("redis.log() requires two arguments or more.")
        level = _lua_tonumber(args[0])
        if level is None:
            raise self._fail("First argument must be a number (log level).")
        level = _to_integer(level)
        if not 0 <= level <= 3:
            raise self._fail("Invalid debug level.")
        parts = [text for text in map(_lua_tostring, args[1:]) if text is not None]
        log.log(_LOG_LEVELS[level], "%s", b" ".join(parts).decode("utf-8", "replace"))

    def _setresp(self, *args: Any) -> None:
        if len(args) != 1:
            raise self._fail("redis.setresp() requires one argument.")
        protocol = _to_integer(_lua_tonumber(args[0]) or 0)
        if protocol not in (2, 3):
            raise self._fail("RESP version must be 2 or 3.")
        self.client.protocol = protocol

    def _set_repl(self, *args: Any) -> None:
        if len(args) != 1:
            raise self._fail("redis.set_repl() requires two arguments.")
        flags = _to_integer(_lua_tonumber(args[0]) or 0)
        if flags & ~3:
            raise self._fail("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")

    def _checkint(self, args: tuple[Any, ...], index: int) -> int:
        value = _lua_tonumber(args[index]) if index < len(args) else None
        if value is None:
            got = "no value" if index >= len(args) else _lua_typename(args[index])
            raise self._fail_here(f"bad argument #{index + 1} to 'random' (number expected, got {got})")
        return _to_integer(value)

    def _random(self, *args: Any) -> float:
        # Redis: (lrand48() % INT32_MAX) / INT32_MAX, then Lua's own scaling.
        r = (self.random.getrandbits(31) % 2147483647) / 2147483647
        if not args:
            return r
        if len(args) == 1:
            upper = self._checkint(args, 0)
            if upper < 1:
                raise self._fail_here("bad argument #1 to 'random' (interval is empty)")
            return math.floor(r * upper) + 1
        if len(args) == 2:
            lower, upper = self._checkint(args, 0), self._checkint(args, 1)
            if lower > upper:
                raise self._fail_here("bad argument #2 to 'random' (interval is empty)")
            return math.floor(r * (upper - lower + 1)) + lower
        raise self._fail_here("wrong number of arguments")

    def _randomseed(self, *args: Any) -> None:
        self.random.seed(self._checkint(args, 0))

    def _json_encode(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._fail_here("bad argument #1 to 'encode' (expected 1 argument)")
        try:
            return _json_encode(args[0], self._is_null, 0)
        except ValueError as error:
            raise self._fail_here(str(error)) from None

    def _json_decode(self, *args: Any) -> Any:
        if len(args) != 1:
            raise self._fail_here("bad argument #1 to 'decode' (expected 1 argument)")
        text = _lua_tostring(args[0])
        if text is None:
            got = _lua_typename(args[0])
            raise self._fail_here(f"bad argument #1 to 'decode' (string expected, got {got})")
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            position = getattr(error, "pos", 0) + 1
            raise self._fail_here(f"Expected value but found invalid token at character {position}") from None
        return self._from_json(data)

    def _from_json(self, data: Any) -> Any:
        kind = type(data)
        if kind is str:
            return data.encode("utf-8", "surrogatepass")
        if kind is list:
            table = self.lua.table()
            for index, item in enumerate(data, 1):
                table[index] = self._from_json(item)
            return table
        if kind is dict:
            table = self.lua.table()
            for key, item in data.items():
                table[key.encode("utf-8", "surrogatepass")] = self._from_json(item)
            return table
        if data is None:
            return self.null
        if kind is int:
            return float(data) if abs(data) > 2**53 else data
        return data


def _unwrap(error: Any) -> Any:
    """Turn a Python exception raised through Lua back into the Lua error value it carries."""
    if isinstance(error, ScriptError):
        return error.value
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}".encode()
    return error


def _lua_tonumber(value: Any) -> float | int | None:
    """Convert like ``lua_tonumber`` / ``lua_isnumber``: numbers and numeric strings."""
    kind = type(value)
    if kind is int or kind is float:
        return value  # type: ignore[no-any-return]
    if kind is bytes:
        try:
            text = value.strip()
            return int(text, 16) if text.lower().startswith(b"0x") else float(text)
        except ValueError:
            return None
    return None


def _lua_tostring(value: Any) -> bytes | None:
    """Convert like ``lua_tolstring``: strings and numbers (``%.14g``), else ``None``."""
    kind = type(value)
    if kind is bytes:
        return value  # type: ignore[no-any-return]
    if kind is int or kind is float:
        return b"%.14g" % value
    return None


def _lua_typename(value: Any) -> str:
    if value is None:
        return "nil"
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is bytes:
        return "string"
    if kind is int or kind is float:
        return "number"
    return _lua_type(value) or "userdata"


def runtime(engine: Engine) -> ScriptRuntime:
    """Return the engine's Lua runtime, creating it on first use."""
    lua = engine._lua
    if lua is None:
        lua = engine._lua = ScriptRuntime(engine)
    return lua  # type: ignore[no-any-return]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if type(value) is float and value == int(value):
        return str(int(value))
    return str(value)


def _hashable(value: Any) -> Any:
    if type(value) is list:
        return tuple(_hashable(item) for item in value)
    return value


# -- cjson.encode ---------------------------------------------------------------
_JSON_ESCAPES = {i: b"\\u%04x" % i for i in range(32)}
_JSON_ESCAPES.update({0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0C: b"\\f", 0x0D: b"\\r",
                      0x22: b'\\"', 0x5C: b"\\\\", 0x2F: b"\\/", 0x7F: b"\\u007f"})


def _json_string(value: bytes) -> bytes:
    out = bytearray(b'"')
    escapes = _JSON_ESCAPES
    for byte in value:
        escaped = escapes.get(byte)
        if escaped is None:
            out.append(byte)
        else:
            out += escaped
    out += b'"'
    return bytes(out)


def _json_number(value: float) -> bytes:
    if math.isinf(value) or math.isnan(value):
        raise ValueError("Cannot serialise number: must not be NaN or Inf")
    if type(value) is int:
        return b"%d" % value
    return b"%.14g" % value


def _json_encode(value: Any, is_null: Any, depth: int) -> bytes:
    kind = type(value)
    if kind is bytes:
        return _json_string(value)
    if kind is bool:
        return b"true" if value else b"false"
    if kind is int or kind is float:
        return _json_number(value)
    if value is None:
        return b"null"
    lua_kind = _lua_type(value)
    if lua_kind == "userdata" and is_null(value):
        return b"null"
    if lua_kind != "table":
        raise ValueError(f"Cannot serialise {lua_kind}: type not supported")
    if depth >= 1000:
        raise ValueError("Cannot serialise, excessive nesting (1001)")
    items = list(value.items())
    if not items:
        return b"{}"
    if all(type(k) in (int, float) and k == int(k) and k >= 1 for k, _ in items):
        size = int(max(k for k, _ in items))
        if size > 10 and size > len(items) * 2:
            raise ValueError("Cannot serialise table: excessively sparse array")
        slots = [b"null"] * size
        for key, item in items:
            slots[int(key) - 1] = _json_encode(item, is_null, depth + 1)
        return b"[" + b",".join(slots) + b"]"
    parts = []
    for key, item in items:
        if type(key) is bytes:
            name = _json_string(key)
        elif type(key) in (int, float):
            name = b'"' + _json_number(key) + b'"'
        else:
            raise ValueError("Cannot serialise table: table key must be a number or string")
        parts.append(name + b":" + _json_encode(item, is_null, depth + 1))
    return b"{" + b",".join(parts) + b"}"


# -- bit (Lua BitOp) ----------------------------------------------------------------
def _tobit(value: Any) -> int:
    number = round(float(value)) & 0xFFFFFFFF
    return number - 0x100000000 if number & 0x80000000 else number


def _bit_library() -> dict[bytes, Any]:
    def fold(op: Any) -> Any:
        def apply(first: Any, *rest: Any) -> int:
            result = _tobit(first) & 0xFFFFFFFF
            for other in rest:
                result = op(result, _tobit(other) & 0xFFFFFFFF)
            return _tobit(result)

        return apply

    def tohex(value: Any, digits: Any = 8) -> bytes:
        count = int(digits)
        upper = count < 0
        count = min(abs(count), 8)
        text = b"%0*x" % (count, (_tobit(value) & 0xFFFFFFFF) & ((1 << (4 * count)) - 1))
        return text.upper() if upper else text

    def shift(op: Any) -> Any:
        def apply(value: Any, amount: Any) -> int:
            return _tobit(op(_tobit(value) & 0xFFFFFFFF, _tobit(amount) & 31))

        return apply

    def rol(v: int, n: int) -> int:
        return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF

    def ror(v: int, n: int) -> int:
        return ((v >> n) | (v << (32 - n))) & 0xFFFFFFFF

    def bswap(value: Any) -> int:
        return _tobit(int.from_bytes((_tobit(value) & 0xFFFFFFFF).to_bytes(4, "big"), "little"))

    return {
        b"tobit": _tobit,
        b"tohex": tohex,
        b"bnot": lambda value: _tobit(~_tobit(value)),
        b"band": fold(lambda a, b: a & b),
        b"bor": fold(lambda a, b: a | b),
        b"bxor": fold(lambda a, b: a ^ b),
        b"lshift": shift(lambda v, n: v << n),
        b"rshift": shift(lambda v, n: v >> n),
        b"arshift": shift(lambda v, n: (v - (1 << 32) if v & 0x80000000 else v) >> n),
        b"rol": shift(rol),
        b"ror": shift(ror),
        b"bswap": bswap,
    }
