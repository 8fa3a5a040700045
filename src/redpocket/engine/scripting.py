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

Function libraries (FUNCTION LOAD, see :mod:`.functions`) run in the same
state: a library's code runs once against load-time globals (just
``redis.register_function``, ``redis.log`` and the version) and its
functions are then called as ``f(keys, args)``.  The libraries scripts see
(``cjson``, ``cmsgpack``, ``struct``, ``bit``) are in :mod:`.lua_libraries`.

A count hook (every 100,000 Lua instructions) bounds library loads to half
a second and, past ``busy-reply-threshold``, marks the script busy
(``Engine.busy_script``: other clients get BUSY) and lets other threads take
the engine lock between its instructions, so SCRIPT KILL, FUNCTION KILL and
SHUTDOWN NOSAVE reach it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import time
from typing import TYPE_CHECKING, Any, Final

from lupa import lua51

from .eviction import OOM_ERROR
from .keyspace import now_ms
from .lua_libraries import (
    LibraryContext,
    bit_library,
    cjson_library,
    cmsgpack_library,
    deep_enough,
    struct_library,
)
from .registry import CommandSpec
from .replies import (
    NULL_ARRAY,
    OK,
    READONLY_ERROR,
    HumanDouble,
    ReplyError,
    SetReply,
    SimpleString,
    VerbatimReply,
    double_reply,
)
from .session import Session
from .version import REDIS_VERSION, REDIS_VERSION_NUM

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("redpocket.lua")
# Scripts' values nest as deep as Redis allows (cjson's 1,000 levels, replies'
# 500), and converting them recurses in Python: raise the interpreter's limit
# once, at import, rather than while some thread runs.
deep_enough()

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
local getinfo, sethook = debug.getinfo, debug.sethook
local unwrap = py.unwrap

local readonly = setmetatable({}, {__mode = "k"})   -- proxy -> protected table
local function refuse() error("Attempt to modify a readonly table", 2) end
-- What getmetatable() shows of a protected table: a table that refuses changes too.
local locked = setmetatable({}, {__newindex = refuse, __metatable = false})
local function protect(t)
  local proxy = setmetatable({}, {__index = t, __newindex = refuse, __metatable = locked})
  readonly[proxy] = t
  return proxy
end
local function real(t) return readonly[t] or t end
local function copy(t) local c = {} for k, v in next, t do c[k] = v end return c end

local G = {}
local env = setmetatable({}, {__index = G, __newindex = refuse, __metatable = locked})
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
G.unpack = function(t, ...) return unpack(real(t), ...) end  -- (no extra arguments: each costs a stack slot)
G.setmetatable = function(t, m)
  if readonly[t] or t == locked then error("Attempt to modify a readonly table", 0) end
  return setmetatable(t, m)
end
G.loadstring = function(s, name)
  -- Redis's Lua parses every chunk as text: precompiled (binary) chunks do not load.
  if type(s) == "string" and s:byte(1) == 27 then
    return nil, "[string \"" .. (name or "?") .. "\"]:1: unexpected symbol near '<\\27>'"
  end
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
G.cjson = protect(py.cjson)
G.bit = protect(py.bit)
G.cmsgpack = protect(py.cmsgpack)
G.struct = protect(py.struct)

local redis = {}
-- (redis.call is the Python helper itself, not a Lua wrapper: "return redis.call(...)"
-- is a tail call, which would drop the script's frame from error positions.  lupa
-- passes at most 7,997 arguments to Python, Redis's Lua 8,000.)
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
for _, library in ipairs({redis, math_, py.bit, py.cjson, py.cmsgpack, py.struct}) do
  for _, v in next, library do
    if type(v) == "userdata" and v ~= py.null then callables[v] = true end
  end
end

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
-- luaL_where(L, 1) for errors raised by the Python helpers: the position of the
-- helper's caller (level 3: above this function and lupa's C call of Python),
-- nothing when that caller is C (pcall(cjson.decode, s), say).
local function where()
  local info = getinfo(3, "Sl")
  if info == nil or info.currentline <= 0 then return "" end
  return info.short_src .. ":" .. info.currentline .. ": "
end
-- What reply a script's table stands for, read raw as luaReplyToRedisReply does (a
-- metatable must not run): kind, payload.  Kinds: 0 array (payload: its length),
-- 1 err, 2 ok, 3 double, 4 big_number, 5 verbatim_string, 6 map, 7 set.
local function reply_shape(t)
  local v = rawget(t, "err") if type(v) == "string" then return 1, v end
  v = rawget(t, "ok") if type(v) == "string" then return 2, v end
  v = rawget(t, "double") if type(v) == "number" then return 3, v end
  v = rawget(t, "big_number") if type(v) == "string" then return 4, v end
  v = rawget(t, "verbatim_string")
  if type(v) == "table" and type(rawget(v, "format")) == "string" and type(rawget(v, "string")) == "string" then
    return 5, rawget(v, "string")
  end
  v = rawget(t, "map") if type(v) == "table" then return 6, v end
  v = rawget(t, "set") if type(v) == "table" then return 7, v end
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  return 0, n
end
-- The name the running Python helper was called by, as luaL_argerror reports it (nil: "?").
local function helper_name()
  local info = getinfo(2, "n")
  return info and info.name
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

-- Functions (function_lua.c): a library's chunk and the functions it defines share
-- the environment fenv.  While FUNCTION LOAD runs the chunk, fenv reads from LIB
-- (just redis.register_function, redis.log and the version); afterwards from FG,
-- the globals of EVAL without KEYS and ARGV.
local nonexistent = getmetatable(G)
local FG = setmetatable(copy(G), nonexistent)
local fmeta = {__index = FG, __newindex = refuse, __metatable = locked}
local fenv = setmetatable({}, fmeta)
readonly[fenv] = FG
FG._G = fenv
local library_redis = setmetatable({register_function = py.register_function, log = py.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = py.version, REDIS_VERSION_NUM = py.version_num}, nonexistent)
callables[py.register_function] = true
local LIB = setmetatable({redis = protect(library_redis)}, nonexistent)
-- Compile and run a library's code; return ok, error, compiled.
local function load_library(body)
  local f, e = loadstring(body, "@user_function")
  if not f then return false, e, false end
  setfenv(f, fenv)
  fmeta.__index = LIB
  local ok, err = pcall(f)
  fmeta.__index = FG
  if not ok and type(err) == "userdata" then err = unwrap(err) end
  return ok, err, true
end
local function run_function(f, keys, argv)
  local ok, result = xpcall(function() return f(keys, argv) end, handler)
  return ok, result
end
local function run_function_spread(f, nkeys, ...)
  local all, keys, argv = {...}, {}, {}
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, select("#", ...) do argv[i - nkeys] = all[i] end
  return run_function(f, keys, argv)
end

-- The count hook: every 100,000 instructions Python checks the clock (load timeout, busy scripts).
local interrupt = py.interrupt
local function hook()
  local info = getinfo(2, "S")
  if info and info.source == "=sandbox" then return end  -- (not the script: run() returning, say)
  local stop = interrupt()
  if stop then
    sethook(hook, "l")  -- (every line from now on: a pcall cannot swallow the error for good)
    error(stop)
  end
end
local function watch(on)
  if on then sethook(hook, "", 100000) else sethook() end
end

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
return compile, run, run_spread, where, load_library, run_function, run_function_spread, watch, helper_name,
  reply_shape
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
    """A compiled script: its Lua function and its shebang flags.

    ``sha`` names it in error messages: the SHA1 of an EVAL script, the name
    of a library's function (``is_function``: it is called as ``f(keys, args)``
    where an EVAL script reads the globals ``KEYS`` and ``ARGV``).
    """

    __slots__ = ("flags", "function", "is_function", "sha")

    def __init__(self, sha: bytes, function: Any, flags: frozenset[bytes] | None, is_function: bool = False) -> None:
        self.sha = sha
        self.function = function
        self.flags = flags
        self.is_function = is_function


BUSY_EVAL: Final = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION: Final = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
# How long a timed-out script lets other clients in at each hook call.
_BUSY_PAUSE_SECONDS: Final = 0.001


class RunningScript:
    """The script running now: who runs it, since when, and whether it timed out, wrote or was killed."""

    __slots__ = ("argv", "caller", "is_function", "killed", "name", "started", "threshold_ms", "timed_out", "wrote")

    def __init__(self, caller: Session, argv: list[bytes], script: Script, threshold_ms: int) -> None:
        self.caller = caller
        self.argv = argv
        self.name = script.sha
        self.is_function = script.is_function
        self.threshold_ms = threshold_ms
        self.started = time.monotonic()
        self.timed_out = False
        self.killed = False
        self.wrote = False

    def duration_ms(self) -> int:
        """Return how long the script has run, in milliseconds."""
        return int((time.monotonic() - self.started) * 1000)

    @property
    def busy_error(self) -> str:
        """Return the BUSY error other clients get while this script is timed out."""
        return BUSY_FUNCTION if self.is_function else BUSY_EVAL


class Registration:
    """A function registered by ``redis.register_function`` while its library loads."""

    __slots__ = ("description", "flags", "function", "name")

    def __init__(self, name: bytes, function: Any, description: bytes | None, flags: frozenset[bytes]) -> None:
        self.name = name
        self.function = function
        self.description = description
        self.flags = flags


def valid_name(name: bytes) -> bool:
    """Tell whether ``name`` is a valid library or function name: ``[a-zA-Z0-9_]+`` (functionsVerifyName)."""
    return bool(name) and all(byte in _NAME_BYTES for byte in name)


_NAME_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
INVALID_NAME: Final = (
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
)
# Script flags as FUNCTION LIST shows them, in Redis's order (scripts_flags_def).
FLAG_ORDER: Final = (b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys")
LOAD_TIMEOUT_SECONDS: Final = 0.5
# How deep a script's reply may nest (Redis stops where its Lua stack, 8,000 slots, runs out).
_MAX_REPLY_DEPTH: Final = 500
# Commands a script runs that MONITOR clients are not shown (Redis's call()).
_UNMONITORED: Final = frozenset({"admin", "skip-monitor"})


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
        self.allow_oom = False  # the running script declared allow-oom (or no-writes)
        self.random = random.Random()
        self.null = self.lua.eval("newproxy(false)")
        context = LibraryContext(self, ScriptError)
        helpers = self.table_from({
            b"unwrap": _unwrap,
            b"call": self._call,
            b"pcall": self._pcall,
            b"sha1hex": self._sha1hex,
            b"log": self._log,
            b"setresp": self._setresp,
            b"set_repl": self._set_repl,
            b"acl_check_cmd": self._acl_check,
            b"register_function": self._register_function,
            b"interrupt": self._interrupt,
            b"random": self._random,
            b"randomseed": self._randomseed,
            b"null": self.null,
            b"cjson": self.table_from(cjson_library(context, self.null, lambda value: self._is_null(value))),
            b"bit": self.table_from(bit_library(context)),
            b"cmsgpack": self.table_from(cmsgpack_library(context)),
            b"struct": self.table_from(struct_library(context)),
            b"version": REDIS_VERSION.encode(),
            b"version_num": REDIS_VERSION_NUM,
        })
        (self._compile, self._run, self._run_spread, self._where, self._load_library, self._run_function,
         self._run_function_spread, self._watch, self.helper_name, self._reply_shape) = self.lua.execute(
            _BOOTSTRAP, helpers, name="=sandbox")
        # The functions of the library FUNCTION LOAD is running, by name; None outside a load.
        self.registering: dict[bytes, Registration] | None = None
        self.load_deadline = 0.0
        self.running: RunningScript | None = None
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
    def run(
        self, session: Session, script: Script, keys: list[bytes], args: list[bytes], read_only: bool,
        argv: list[bytes] | None = None,
    ) -> Any:
        """Run ``script`` for ``session`` and return its reply (atomically, under the engine lock).

        ``argv`` is the caller's command (FUNCTION STATS shows it).  Past
        ``busy-reply-threshold`` milliseconds the script lets other clients
        in between its instructions (see :meth:`_interrupt`): they get BUSY
        replies, and SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE work.
        """
        flags = script.flags
        if flags is not None:
            if read_only and b"no-writes" not in flags:
                raise ReplyError("ERR Can not execute a script with write flag using *_ro command.")
            read_only = read_only or b"no-writes" in flags
        client = self.client
        engine = self.engine
        self.allow_oom = flags is not None and (b"allow-oom" in flags or b"no-writes" in flags)
        if flags is not None and not self.allow_oom and engine.script_oom and engine.evictor.maxmemory:
            raise ReplyError(OOM_ERROR)  # (a script declaring it may write is a denyoom command)
        with engine.lock:
            if self.running is not None:  # (only a command run while a script is busy gets here: EXEC's)
                raise ReplyError(BUSY_FUNCTION if self.running.is_function else BUSY_EVAL)
            threshold = engine.config.get_int("busy-reply-threshold")
            running = self.running = RunningScript(session, argv or [], script, threshold)
            if threshold > 0:
                self._watch(True)
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
                if script.is_function:
                    if len(keys) + len(args) <= _SPREAD_LIMIT:
                        ok, result = self._run_function_spread(script.function, len(keys), *keys, *args)
                    else:
                        ok, result = self._run_function(script.function, self.table_from(keys), self.table_from(args))
                elif len(keys) + len(args) <= _SPREAD_LIMIT:
                    ok, result = self._run_spread(script.function, len(keys), *keys, *args)
                else:  # (more than a Lua call takes)
                    ok, result = self._run(script.function, self.table_from(keys), self.table_from(args))
            finally:
                if threshold > 0:
                    self._watch(False)
                self.running = None
                if running.timed_out:
                    engine.busy_script = None
                    log.warning("Slow script finished after %d milliseconds.", running.duration_ms())
                self.engine.frozen_ms = engine_frozen
                session.in_script = outer
        if not ok:
            counted = _lua_type(result) == "table" and bool(result[_COUNTED])
            raise ReplyError(self._error_message(result, script.sha), counted=counted)
        return self.to_reply(result, session.protocol)

    # -- libraries (FUNCTION LOAD) ----------------------------------------------------
    def load_library(self, code: bytes) -> dict[bytes, Registration]:
        """Compile and run a library's code (the text after its shebang line); return what it registered.

        The code runs against the load-time globals (``redis.register_function``,
        ``redis.log``, the version) and must finish within half a second, as
        function_lua.c's ``luaEngineCreate`` does.
        """
        self.registering = {}
        self.load_deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
        try:
            with self.engine.lock:
                self._watch(True)
                try:
                    ok, error, compiled = self._load_library(code)
                finally:
                    self._watch(False)
            registered = self.registering
        finally:
            self.registering = None
        if not compiled:
            raise ReplyError(f"ERR Error compiling function: {_text(error)}".replace("\r", " ").replace("\n", " "))
        if not ok:
            raise ReplyError(f"ERR Error registering functions: {_error_text(error)}".replace("\r", " ").replace("\n", " "))
        return registered

    def _register_function(self, *args: Any) -> None:
        """``redis.register_function(name, callback)`` or ``redis.register_function{function_name=..., ...}``."""
        if self.registering is None:
            raise self._fail("redis.register_function can only be called on FUNCTION LOAD command")
        if not 1 <= len(args) <= 2:
            raise self._fail("wrong number of arguments to redis.register_function")
        description: bytes | None = None
        flags: set[bytes] = set()
        if len(args) == 2:
            name = _lua_tostring(args[0])
            if name is None:
                raise self._fail("first argument to redis.register_function must be a string")
            callback = args[1]
            if _lua_type(callback) != "function":
                raise self._fail("second argument to redis.register_function must be a function")
        else:
            named = args[0]
            if _lua_type(named) != "table":
                raise self._fail("calling redis.register_function with a single argument is only applicable "
                                 "to Lua table (representing named arguments).")
            name = callback = None
            for key, value in named.items():
                text = _lua_tostring(key)
                if text is None:
                    raise self._fail("named argument key given to redis.register_function is not a string")
                option = text.lower()
                if option == b"function_name":
                    name = _lua_tostring(value)
                    if name is None:
                        raise self._fail("function_name argument given to redis.register_function must be a string")
                elif option == b"description":
                    description = _lua_tostring(value)
                    if description is None:
                        raise self._fail("description argument given to redis.register_function must be a string")
                elif option == b"callback":
                    if _lua_type(value) != "function":
                        raise self._fail("callback argument given to redis.register_function must be a function")
                    callback = value
                elif option == b"flags":
                    if _lua_type(value) != "table":
                        raise self._fail("flags argument to redis.register_function must be a table "
                                         "representing function flags")
                    flags = self._read_flags(value)
                else:
                    raise self._fail("unknown argument given to redis.register_function")
            if name is None:
                raise self._fail("redis.register_function must get a function name argument")
            if callback is None:
                raise self._fail("redis.register_function must get a callback argument")
        if not valid_name(name):
            raise self._fail(INVALID_NAME)
        if name in self.registering:
            raise self._fail("Function already exists in the library")
        self.registering[name] = Registration(name, callback, description, frozenset(flags))

    def _read_flags(self, table: Any) -> set[bytes]:
        flags: set[bytes] = set()
        index = 1
        while True:
            value = table[index]
            if value is None:
                return flags
            text = _lua_tostring(value)
            flag = text.lower() if text is not None else None
            if flag not in SCRIPT_FLAGS:
                raise self._fail("unknown flag given")
            flags.add(flag)  # type: ignore[arg-type]
            index += 1

    def _interrupt(self) -> Any:
        """The Lua count hook (every 100,000 instructions); return an error to raise in the script, or ``None``.

        A library load gets half a second.  A script past the busy threshold
        enters the timed-out state (the engine answers BUSY to other
        clients, see ``Engine.busy_script``) and from then on releases the
        engine lock for a moment at each call, so other threads (the TCP
        server's loop, embedded clients) can run SCRIPT KILL and the like:
        Redis's processEventsWhileBlocked.
        """
        if self.registering is not None:
            if time.monotonic() > self.load_deadline:
                return self.error_table("ERR FUNCTION LOAD timeout")
            return None
        running = self.running
        if running is None:
            return None
        if not running.timed_out:
            if running.duration_ms() < running.threshold_ms:
                return None
            running.timed_out = True
            self.engine.busy_script = running
            log.warning("Slow script detected: still in execution after %d milliseconds. You can try killing the "
                        "script using the %s command. Script name is: %s.", running.duration_ms(),
                        "FUNCTION KILL" if running.is_function else "SCRIPT KILL", _text(running.name))
        self.engine.condition.wait(_BUSY_PAUSE_SECONDS)
        if running.killed:
            log.warning("Lua script killed by user with SCRIPT KILL.")
            return self.error_table("ERR Script killed by user with SCRIPT KILL...")
        return None

    def kill(self, is_eval: bool) -> None:
        """Stop the running script at its next hook call (SCRIPT KILL / FUNCTION KILL), or raise Redis's refusal."""
        running = self.running
        if running is None:
            raise ReplyError("NOTBUSY No scripts in execution right now.")
        if running.wrote:
            raise ReplyError(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either "
                "wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
        if is_eval and running.is_function:
            raise ReplyError(BUSY_FUNCTION)
        if not is_eval and not running.is_function:
            raise ReplyError(BUSY_EVAL)
        running.killed = True

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
    def to_reply(self, value: Any, protocol: int, depth: int = 0) -> Any:
        """Convert a script's Lua result to a reply for a client of ``protocol`` (luaReplyToRedisReply).

        Tables nested deeper than ``_MAX_REPLY_DEPTH`` end in an error
        element, as Redis's end where its Lua stack runs out.
        """
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
        if depth >= _MAX_REPLY_DEPTH:
            return ReplyError("ERR reached lua stack limit")
        depth += 1
        shape, field = self._reply_shape(value)
        if shape == 0:
            return [self.to_reply(value[index], protocol, depth) for index in range(1, field + 1)]
        if shape == 1:
            text = field.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")
            return ReplyError(text, counted=bool(value[_COUNTED]))
        if shape == 2:
            return SimpleString(field.replace(b"\r", b" ").replace(b"\n", b" "))
        if shape == 3:
            return double_reply(protocol, float(field))
        if shape == 4:
            # RESP3 big number; redis-py hands it over as the bulk of digits.
            return field.replace(b"\r", b" ").replace(b"\n", b" ")
        if shape == 5:
            return VerbatimReply(field) if protocol == 3 else field
        if shape == 6:
            flat: list[Any] = []
            for key, item in field.items():
                flat.append(self.to_reply(key, protocol, depth))
                flat.append(self.to_reply(item, protocol, depth))
            if protocol == 3:
                return {_hashable(k): v for k, v in zip(flat[::2], flat[1::2], strict=True)}
            return flat
        members = [self.to_reply(key, protocol, depth) for key in field]
        return SetReply(members) if protocol == 3 else members

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
        if kind is float or kind is HumanDouble:  # (GEOPOS's coordinates are HumanDouble)
            return self.table_from({b"double": float(reply)})
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
        engine = self.engine
        if (
            spec.denyoom  # type: ignore[union-attr]
            and engine.script_oom
            and engine.evictor.maxmemory
            and not self.allow_oom
            and (self.running is None or not self.running.wrote)
        ):  # memory was over maxmemory when the script started: its first write is refused (scriptVerifyOOM)
            return self._refused(OOM_ERROR, spec)  # type: ignore[arg-type]
        if self.running is not None and spec.write:  # type: ignore[union-attr]  # (it can no longer be killed)
            self.running.wrote = True
        reply = self.engine.call(self.client, spec, argv)  # type: ignore[arg-type]
        listeners = self.engine.script_listeners
        if listeners and not _UNMONITORED & spec.flags:  # type: ignore[union-attr]
            for listener in listeners:
                listener(self.client.db.index, argv)
        return reply

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
        engine = self.engine
        if ("write" in flags and engine.replica and not self.caller.from_master
                and engine.config.values["replica-read-only"] == "yes"):
            return ReplyError(READONLY_ERROR)
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

def _error_text(error: Any) -> str:
    """Return the message Redis's ``luaExtractErrorInformation`` finds in a Lua error value."""
    if _lua_type(error) == "table":
        message = error[b"err"]
        if message is not None:
            return _text(message)
    return "ERR " + _text(error)


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


def kill_script(engine: Engine, is_eval: bool) -> SimpleString:
    """Stop the running script (SCRIPT KILL with ``is_eval``, else FUNCTION KILL); raise Redis's refusal."""
    lua = engine._lua
    if lua is None:
        raise ReplyError("NOTBUSY No scripts in execution right now.")
    lua.kill(is_eval)
    return OK


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
