"""The Redis version this engine answers as (INFO, HELLO, LOLWUT, Lua's ``redis.REDIS_VERSION``)."""

from __future__ import annotations

from typing import Final

REDIS_VERSION: Final = "7.0.15"
REDIS_VERSION_NUM: Final = 0x0007000F  # (major << 16) | (minor << 8) | patch, as Lua scripts see it
