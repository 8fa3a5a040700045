"""Redis functions (Redis 7.0's functions.c): libraries of named Lua functions.

A library is the code FUNCTION LOAD received, beginning with a metadata
line ``#!lua name=<library>``; running it once registers its functions
through ``redis.register_function`` (see :meth:`ScriptRuntime.load_library`).
An engine keeps its libraries in one :class:`FunctionLibraries`
(``functions(engine)``), which the FUNCTION and FCALL commands use and
snapshots persist.  Function names are unique across libraries and looked
up case-insensitively; library names are case-sensitive, as in Redis.

FUNCTION DUMP's payload is Redis's own: each library as the RDB opcode
``RDB_OPCODE_FUNCTION2`` followed by its code as an RDB string, then the RDB
version and a CRC-64, so a dump from redis-server restores here and back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .args import split_args
from .persistence.rdb import OPCODE_FUNCTION, OPCODE_FUNCTION2, RDB_VERSION, verify_payload
from .persistence.rdb_primitives import RdbFormatError, Reader, crc64, encode_string
from .replies import ReplyError
from .scripting import INVALID_NAME, Script, runtime, valid_name

if TYPE_CHECKING:
    from .engine import Engine

ENGINE_NAME: Final = b"LUA"
_EXTENSION: Final = "functions"


class Function:
    """One function of a library: its compiled callback, description and flags."""

    __slots__ = ("description", "flags", "library", "name", "script")

    def __init__(self, name: bytes, library: Library, script: Script, description: bytes | None) -> None:
        self.name = name
        self.library = library
        self.script = script
        self.description = description
        self.flags: frozenset[bytes] = script.flags or frozenset()


class Library:
    """A loaded library: its name, its whole code (metadata line included) and its functions in order."""

    __slots__ = ("code", "functions", "name")

    def __init__(self, name: bytes, code: bytes) -> None:
        self.name = name
        self.code = code
        self.functions: dict[bytes, Function] = {}


class FunctionLibraries:
    """An engine's libraries and the index of their functions by (lower-case) name."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}

    # -- reading -------------------------------------------------------------------
    def find(self, name: bytes) -> Function | None:
        """Return the function called ``name`` (in any case), or ``None``."""
        return self.functions.get(name.lower())

    def function_count(self) -> int:
        """Return how many functions all libraries hold."""
        return len(self.functions)

    # -- changing ------------------------------------------------------------------
    def create(self, code: bytes, replace: bool) -> bytes:
        """Compile ``code`` and add its library (FUNCTION LOAD); return the library's name.

        Raise :class:`ReplyError` with Redis's text when the metadata, the
        code or a name is wrong; nothing changes then.
        """
        name, body = parse_metadata(code)
        old = self.libraries.get(name)
        if old is not None and not replace:
            raise ReplyError(f"ERR Library '{_text(name)}' already exists")
        library = self.compile(name, code, body)
        for key in library.functions:
            existing = self.functions.get(key)
            if existing is not None and existing.library is not old:
                raise ReplyError(f"ERR Function {_text(existing.name)} already exists")
        if old is not None:
            self._unlink(old)
        self._link(library)
        return name

    def compile(self, name: bytes, code: bytes, body: bytes) -> Library:
        """Run a library's code and return the (unlinked) library holding what it registered."""
        registered = runtime(self.engine).load_library(body)
        if not registered:
            raise ReplyError("ERR No functions registered")
        library = Library(name, code)
        for registration in registered.values():
            script = Script(registration.name, registration.function, registration.flags, is_function=True)
            function = Function(registration.name, library, script, registration.description)
            library.functions[registration.name.lower()] = function
        return library

    def delete(self, name: bytes) -> None:
        """Remove the library called ``name`` (FUNCTION DELETE)."""
        library = self.libraries.get(name)
        if library is None:
            raise ReplyError("ERR Library not found")
        self._unlink(library)

    def flush(self) -> None:
        """Remove every library (FUNCTION FLUSH)."""
        self.libraries.clear()
        self.functions.clear()

    def _link(self, library: Library) -> None:
        self.libraries[library.name] = library
        self.functions.update(library.functions)

    def _unlink(self, library: Library) -> None:
        del self.libraries[library.name]
        for key in library.functions:
            self.functions.pop(key, None)

    # -- DUMP / RESTORE ---------------------------------------------------------------
    def dump(self) -> bytes:
        """Return Redis's FUNCTION DUMP payload for every library."""
        payload = b"".join(bytes((OPCODE_FUNCTION2,)) + encode_string(library.code)
                           for library in self.libraries.values())
        payload += RDB_VERSION.to_bytes(2, "little")
        return payload + crc64(payload).to_bytes(8, "little")

    def codes(self) -> list[bytes]:
        """Return the code of every library, in load order (what an RDB file stores)."""
        return [library.code for library in self.libraries.values()]

    def restore(self, payload: bytes, policy: bytes) -> None:
        """Load the libraries of a FUNCTION DUMP payload with policy FLUSH, APPEND or REPLACE."""
        if not verify_payload(payload):
            raise ReplyError("ERR DUMP payload version or checksum are wrong")
        loaded = FunctionLibraries(self.engine)
        reader = Reader(payload, 0, len(payload) - 10)
        while reader.pos < reader.end:
            try:
                kind = reader.byte()
            except RdbFormatError:
                raise ReplyError("ERR can not read data type") from None
            if kind not in (OPCODE_FUNCTION, OPCODE_FUNCTION2):
                raise ReplyError("ERR given type is not a function")
            try:
                code = read_library_code(reader, kind)
            except RdbFormatError:
                raise ReplyError("ERR Failed loading library payload") from None
            loaded.create(code, replace=False)
        if policy == b"FLUSH":
            self.flush()
        self.join(loaded, replace=policy == b"REPLACE")

    def join(self, other: FunctionLibraries, replace: bool) -> None:
        """Add ``other``'s libraries (Redis's libraryJoin): all of them, or none on a name collision."""
        replaced = []
        for name in other.libraries:
            if name in self.libraries:
                if not replace:
                    raise ReplyError(f"ERR Library {_text(name)} already exists")
                replaced.append(self.libraries[name])
        for library in replaced:
            self._unlink(library)
        for key, function in other.functions.items():
            if key in self.functions:
                for library in replaced:  # (put the old ones back)
                    self._link(library)
                raise ReplyError(f"ERR Function {_text(function.name)} already exists")
        for library in other.libraries.values():
            self._link(library)


def read_library_code(reader: Reader, kind: int) -> bytes:
    """Read one library's code after its opcode; the old 7.0-rc format is translated as Redis does."""
    if kind == OPCODE_FUNCTION2:
        return reader.read_string()
    name = reader.read_string()
    engine_name = reader.read_string()
    has_description = reader.read_length()
    if has_description:
        reader.read_string()
    blob = reader.read_string()
    return b"#!%s name=%s\n%s" % (engine_name, name, blob)


def parse_metadata(code: bytes) -> tuple[bytes, bytes]:
    """Return ``(library name, code after the metadata line)``; raise Redis's errors (functionExtractLibMetaData)."""
    if not code.startswith(b"#!"):
        raise ReplyError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise ReplyError("ERR Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise ReplyError("ERR Invalid library metadata")
    engine_name = parts[0][2:]
    name: bytes | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise ReplyError("ERR Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise ReplyError(f"ERR Invalid metadata value given: {_text(part)}")
    if name is None:
        raise ReplyError("ERR Library name was not given")
    if not valid_name(name):
        raise ReplyError("ERR " + INVALID_NAME)
    if engine_name.upper() != ENGINE_NAME:
        raise ReplyError(f"ERR Engine '{_text(engine_name)}' not found")
    return name, code[end:]




def functions(engine: Engine) -> FunctionLibraries:
    """Return the engine's libraries, creating the (empty) registry on first use."""
    store = engine.extensions.get(_EXTENSION)
    if store is None:
        store = engine.extensions[_EXTENSION] = FunctionLibraries(engine)
    return store  # type: ignore[no-any-return]


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")
