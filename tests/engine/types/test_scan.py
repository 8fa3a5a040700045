"""Glob patterns: the compiled matcher agrees with the direct port of Redis's ``stringmatchlen``."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from redpocket.engine.types.scan import glob_matcher, stringmatchlen

PATTERN_BYTES = st.binary(max_size=10).map(lambda raw: bytes(b"ab*?[]^-\\\xff"[byte % 10] for byte in raw))
STRING_BYTES = st.binary(max_size=12).map(lambda raw: bytes(b"ab-]^\\*?[\xff"[byte % 10] for byte in raw))


@settings(max_examples=2000, deadline=None)
@given(PATTERN_BYTES, STRING_BYTES)
def test_matcher_agrees_with_stringmatchlen(pattern: bytes, string: bytes) -> None:
    assert glob_matcher(pattern)(string) == stringmatchlen(pattern, string)


def test_many_stars_do_not_backtrack() -> None:
    started = time.monotonic()
    assert not glob_matcher(b"a*" * 20 + b"b")(b"a" * 40)
    assert glob_matcher(b"*a?[ab]*b*")(b"xxa-bxxb")
    assert not glob_matcher(b"*a?[ab]*b*")(b"xxa-cxxc")
    assert time.monotonic() - started < 1
