"""The Lua libraries Redis 7.0 gives scripts: ``cjson``, ``cmsgpack``, ``struct`` and ``bit``.

Written here in Python and exposed to Lua through lupa, following the
behaviour of the C modules Redis bundles (lua-cjson 2.1 with Redis's
settings, lua-cmsgpack 0.4, Roberto Ierusalimschy's struct, LuaBitOp):
the same encodings byte for byte, the same results and the same error
texts.  Each module's ``*_library(context)`` returns the functions of one
Lua table; :class:`~.common.LibraryContext` gives them the runtime's Lua
tables and errors (``fail`` is ``luaL_error``, ``bad_argument`` is
``luaL_argerror``).

- :mod:`.common`: Lua's conversions of values, the context
- :mod:`.cjson`, :mod:`.cmsgpack`, :mod:`.lua_struct`, :mod:`.bitop`: one library each
"""

from .bitop import bit_library
from .cjson import cjson_library, deep_enough
from .cmsgpack import cmsgpack_library
from .common import LibraryContext
from .lua_struct import struct_library

__all__ = ["LibraryContext", "bit_library", "cjson_library", "cmsgpack_library", "deep_enough", "struct_library"]
