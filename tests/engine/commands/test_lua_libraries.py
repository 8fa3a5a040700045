"""cjson, cmsgpack, struct and bit in scripts: the same script sent to the engine and to redis-server."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import run


def same(pair_clients: tuple[Any, Any], body: str, *args: Any) -> Any:
    """Run ``body`` with EVAL on both backends, assert the replies are equal, return one."""
    embedded, real = pair_clients
    expected = run(real, "EVAL", body, 0, *args)
    assert run(embedded, "EVAL", body, 0, *args) == expected, body
    return expected


CJSON = [
    "return cjson.encode({1, 2, 3})", "return cjson.encode({})", "return cjson.encode({a=1})",
    "return cjson.encode({[1]=1, [3]=3})", "return cjson.encode({[1]=1, [20]=2})",
    "return cjson.encode({[0]=1})", "return cjson.encode({[1.5]=1})", "return cjson.encode({[-1]=1})",
    "return cjson.encode({1, 2, x=3})", "return cjson.encode({{{}}})", "return cjson.encode('a/b\\\"\\\\\\n\\0\\127\\200')",
    "return cjson.encode(1/3)", "return cjson.encode(1e20)", "return cjson.encode(2^53)",
    "return cjson.encode(123456789012345)", "return cjson.encode(0.1)", "return cjson.encode(1e-7)",
    "return cjson.encode(1/0)", "return cjson.encode(0/0)", "return cjson.encode({1/0})",
    "return cjson.encode(true)", "return cjson.encode(nil)", "return cjson.encode(cjson.null)",
    "return cjson.encode({cjson.null})", "return cjson.encode(print)", "return cjson.encode({[true]=1})",
    "return cjson.encode(function() end)", "return cjson.encode()", "return cjson.encode(1, 2)",
    "local t = {} t[1] = t return cjson.encode(t)", "return cjson.encode({[1]=1, [2]=nil, [3]=3})",
    "return cjson.decode('[1,2,3]')", "return cjson.decode('{\"a\":[1,{\"b\":2}]}').a[2].b",
    "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\\\\n\"')", "return cjson.decode('1e2')",
    "return type(cjson.decode('null'))", "return cjson.decode('null') == cjson.null",
    "return cjson.decode('[1,null,3]')[3]", "return cjson.decode('  true ')", "return cjson.decode('0x10')",
    "return tostring(cjson.decode('inf'))", "return tostring(cjson.decode('-Infinity'))", "return cjson.decode('+5')",
    "return cjson.decode('012')", "return cjson.decode('1.5e')", "return cjson.decode('')", "return cjson.decode('[')",
    "return cjson.decode('[1,]')", "return cjson.decode('{1:2}')", "return cjson.decode('{\"a\" 2}')",
    "return cjson.decode('{\"a\":2,}')", "return cjson.decode('[1 2]')", "return cjson.decode('tru')",
    "return cjson.decode('\"abc')", "return cjson.decode('\"\\\\q\"')", "return cjson.decode('\"\\\\u12\"')",
    "return cjson.decode('\"\\\\udc00\"')", "return cjson.decode('1 2')", "return cjson.decode('a')",
    "return cjson.decode('-')", "return cjson.decode('[1]\\0garbage')", "return cjson.decode(12)",
    "return cjson.decode({})", "return cjson.decode()", "return cjson.decode('\\0a')",
    "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
    "return cjson.decode('{\"a\":1,\"a\":2}').a", "return #cjson.decode('[]')", "return cjson.decode('-0')",
    "return cjson.decode('9007199254740993')", "return cjson.decode('1e400')", "return cjson.decode('[1,[2,[3]]]')",
    "return type(cjson.null)", "return type(cjson.encode)", "return cjson._NAME",
    "return cjson.encode(string.rep('x', 10))", "local d = {} for i = 1, 1100 do d = {d} end return cjson.encode(d)",
    # settings (each script puts the defaults back: they last as long as the Lua state)
    "local p = cjson.encode_number_precision(3) local e = cjson.encode(1/3) cjson.encode_number_precision(14)"
    " return {p, e}",
    "local ok, e = pcall(cjson.encode_number_precision, 15) return e", "return cjson.encode_max_depth()",
    "cjson.encode_max_depth(1) local ok, e = pcall(cjson.encode, {{1}}) cjson.encode_max_depth(1000) return e",
    "cjson.decode_max_depth(1) local ok, e = pcall(cjson.decode, '[[1]]') cjson.decode_max_depth(1000) return e",
    "local a = cjson.encode_invalid_numbers(true) local e = cjson.encode({0/0, 1/0, -1/0})"
    " cjson.encode_invalid_numbers('null') local n = cjson.encode({0/0}) cjson.encode_invalid_numbers(false)"
    " return {tostring(a), e, n}",
    "local ok, e = pcall(cjson.encode_invalid_numbers, 'maybe') return e",
    "return {cjson.encode_sparse_array()}",
    "cjson.encode_sparse_array(true) local e = cjson.encode({[1]=1, [20]=2}) cjson.encode_sparse_array(false)"
    " return e",
    "cjson.encode_sparse_array(false, 0) local e = cjson.encode({[1]=1, [20]=2}) cjson.encode_sparse_array(false, 2)"
    " return e",
    "cjson.decode_invalid_numbers(false) local ok, e = pcall(cjson.decode, '0x10') cjson.decode_invalid_numbers(true)"
    " return e",
    "return tostring(cjson.encode_keep_buffer(false)) .. tostring(cjson.encode_keep_buffer(true))",
    "local ok, e = pcall(cjson.encode_max_depth, 1, 2) return e",
]


def test_cjson(pair) -> None:
    clients = pair()
    for body in CJSON:
        same(clients, body)


CMSGPACK = [
    "return cmsgpack.pack(1)", "return cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1)",
    "return cmsgpack.pack(127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32, 2^53)",
    "return cmsgpack.pack(0.5, 0.1, 1/3, 1e300, 1/0, -1/0)", "return cmsgpack.pack(2^63, -2^63, 2^64)",
    "return cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('x', 32), string.rep('y', 255))",
    "return cmsgpack.pack(string.rep('z', 256), string.rep('z', 65536))",
    "return cmsgpack.pack(true, false, nil)", "return cmsgpack.pack({})", "return cmsgpack.pack({1, 2, 3})",
    "return cmsgpack.pack({a=1})", "return cmsgpack.pack({[1]=1, [3]=3})", "return cmsgpack.pack({[1.5]=1})",
    "return cmsgpack.pack({1, {2, {3}}})", "return cmsgpack.pack(print)", "return cmsgpack.pack()",
    "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
    "local t = {} for i = 1, 20 do t['k' .. i] = i end return #cmsgpack.pack(t)",
    "local t = {} for i = 1, 70000 do t[i] = 0 end return #cmsgpack.pack(t)",
    "local d = {} for i = 1, 20 do d = {d} end return cmsgpack.pack(d)",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1, 2}, {x='y'}))}",
    "return cmsgpack.unpack(cmsgpack.pack({a={b={c='d'}}})).a.b.c",
    "return {cmsgpack.unpack('')}", "return cmsgpack.unpack('\\193')", "return cmsgpack.unpack('\\205\\1')",
    "return cmsgpack.unpack('\\146\\1')", "return cmsgpack.unpack(1)", "return cmsgpack.unpack()",
    "return {cmsgpack.unpack('\\203\\63\\240\\0\\0\\0\\0\\0\\0')}", "return {cmsgpack.unpack('\\202\\63\\128\\0\\0')}",
    "return {cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')}",
    "return {cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0')}", "return {cmsgpack.unpack('\\196\\1a')}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}", "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}", "return {cmsgpack.unpack_one(cmsgpack.pack(1), 5)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1), -1)}", "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 2)}", "return {cmsgpack.unpack_limit(cmsgpack.pack(1), 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1))}", "return cmsgpack.unpack('\\129\\192\\1')",
    "return cmsgpack._VERSION",
]


def test_cmsgpack(pair) -> None:
    clients = pair()
    for body in CMSGPACK:
        same(clients, body)


STRUCT = [
    "return struct.pack('b', -1)", "return struct.pack('BhHiIlL', 255, -2, 65535, -3, 7, -4, 5)",
    "return struct.pack('>i4', 1)", "return struct.pack('<i2', 258)", "return struct.pack('i3', -1)",
    "return struct.pack('I16', 1)", "return struct.pack('i33', 1)", "return struct.pack('i0', 1)",
    "return struct.pack('!4 b i', 1, 2)", "return struct.pack('!b i', 1, 2)", "return struct.pack('!3 b', 1)",
    "return struct.pack('f d', 1.5, 1/3)", "return struct.pack('>d', 2^60)", "return struct.pack('f', 1e300)",
    "return struct.pack('c3', 'abcdef')", "return struct.pack('c0', 'abc')", "return struct.pack('c5', 'ab')",
    "return struct.pack('s', 'ab')", "return struct.pack('x b x', 7)", "return struct.pack('T', 1)",
    "return struct.pack('z', 1)", "return struct.pack('i', 'x')", "return struct.pack('i')", "return struct.pack()",
    "return struct.pack('i', '12')", "return struct.pack('B', 300)", "return struct.pack('b', 2.7)",
    "return struct.pack('i8', 2^63)", "return struct.pack('I8', -1)",
    "return {struct.unpack('b', '\\255')}", "return {struct.unpack('B', '\\255')}",
    "return {struct.unpack('>i4', '\\0\\0\\1\\0')}", "return {struct.unpack('<I2 c2', '\\1\\2ab')}",
    "return {struct.unpack('i', 'ab')}", "return {struct.unpack('s', 'ab\\0cd')}", "return {struct.unpack('s', 'ab')}",
    "return {struct.unpack('b c0', '\\2xyz')}", "return {struct.unpack('c0', 'xyz')}",
    "return {struct.unpack('b', 'abc', 2)}", "return {struct.unpack('b', 'abc', 0)}", "return {struct.unpack('b', 'a', 3)}",
    "return {struct.unpack('>I8', '\\255\\255\\255\\255\\255\\255\\255\\255')}",
    "return {struct.unpack('>i8', '\\128\\0\\0\\0\\0\\0\\0\\1')}",
    "return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, -9))}",
    "return tostring(struct.unpack('d', struct.pack('d', 0.1)))", "return {struct.unpack('f', struct.pack('f', 0.5))}",
    "return {struct.unpack('x b', '\\1\\2')}", "return {struct.unpack('>i16', string.rep('\\255', 16))}",
    "return struct.size('b h i l d')", "return struct.size('!8 b d')", "return struct.size('s')",
    "return struct.size('c0')", "return struct.size('c7 x')", "return struct.size('q')", "return struct.size('>')",
]


def test_struct(pair) -> None:
    clients = pair()
    for body in STRUCT:
        same(clients, body)


BIT = [
    "return bit.tobit(0xffffffff)", "return bit.tobit(2^32 + 5)", "return bit.tobit(-1)", "return bit.tobit(1.5)",
    "return bit.tobit(2.5)", "return bit.tobit(-2.5)", "return bit.tobit(2^53 + 3)", "return bit.tobit(1/0)",
    "return bit.tohex(255)", "return bit.tohex(-1)", "return bit.tohex(255, 2)", "return bit.tohex(255, -4)",
    "return bit.tohex(0x12345678, 0)", "return bit.tohex(1, 20)", "return bit.bnot(0)",
    "return bit.band(0xff, 0x0f, 0x3)", "return bit.bor(1, 2, 4, 8)", "return bit.bxor(5, 3)",
    "return bit.lshift(1, 31)", "return bit.lshift(1, 32)", "return bit.rshift(-1, 28)", "return bit.arshift(-16, 2)",
    "return bit.rol(0x80000001, 1)", "return bit.ror(1, 1)", "return bit.bswap(0x12345678)",
    "return bit.band()", "return bit.band('x')", "return bit.lshift(1)", "return bit.tobit('12')",
    "return bit.bor(1)", "return bit.tohex('ff')",
]


def test_bit(pair) -> None:
    clients = pair()
    for body in BIT:
        same(clients, body)


# -- hypothesis: values through the libraries -------------------------------------------------
def lua_literal(value: Any) -> str:
    """Write a Python value as a Lua expression."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"({value!r})".replace("inf", "(1/0)").replace("nan", "(0/0)")
    if isinstance(value, bytes):
        return '"' + "".join(f"\\{b}" for b in value) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


# (not -0.0: lupa hands it to Python as the integer 0, so cjson.encode writes "0" where Redis writes "-0")
finite = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != 0 or str(f) == "0.0")
scalars = st.one_of(
    st.integers(-(2**53), 2**53), finite,
    st.binary(max_size=40), st.booleans(),
)
keys = st.one_of(st.binary(min_size=1, max_size=8), st.integers(-5, 40))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(keys, inner, max_size=5)), max_leaves=12)

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(value=values)
def test_hypothesis_cjson_encode(pair, value: Any) -> None:
    clients = pair()
    encoded = same(clients, f"return cjson.encode({lua_literal(value)})")
    if isinstance(encoded, bytes):
        same(clients, "return cjson.encode(cjson.decode(ARGV[1]))", encoded)


@SETTINGS
@given(value=values)
def test_hypothesis_cmsgpack(pair, value: Any) -> None:
    clients = pair()
    packed = same(clients, f"return cmsgpack.pack({lua_literal(value)})")
    same(clients, "return cmsgpack.pack(cmsgpack.unpack(ARGV[1]))", packed)
    same(clients, "return {cmsgpack.unpack(ARGV[1])}", packed)


@SETTINGS
@given(data=st.binary(max_size=24))
def test_hypothesis_decoders_on_arbitrary_bytes(pair, data: bytes) -> None:
    clients = pair()
    same(clients, "return {pcall(cjson.decode, ARGV[1])}", data)
    same(clients, "return {pcall(cmsgpack.unpack, ARGV[1])}", data)
    same(clients, "local ok, v = pcall(cjson.decode, ARGV[1]) if ok then return cjson.encode(v) end return v", data)


formats = st.text(alphabet="bBhHiIlLfdcsx<>!0123456789 ", max_size=8)


@SETTINGS
@given(form=formats, numbers=st.lists(st.one_of(st.integers(-(2**40), 2**40), st.floats(-1e10, 1e10).filter(lambda f: f != 0 or str(f) == "0.0")), max_size=6),
       data=st.binary(max_size=24))
def test_hypothesis_struct(pair, form: str, numbers: list[Any], data: bytes) -> None:
    clients = pair()
    arguments = ", ".join(lua_literal(n) for n in numbers)
    same(clients, f"return {{pcall(struct.pack, ARGV[1], {arguments})}}", form.encode())
    same(clients, "return {pcall(struct.unpack, ARGV[1], ARGV[2])}", form.encode(), data)
    same(clients, "return {pcall(struct.size, ARGV[1])}", form.encode())


@SETTINGS
@given(numbers=st.lists(st.one_of(st.integers(-(2**60), 2**60), st.floats(allow_nan=False).filter(lambda f: f != 0 or str(f) == "0.0")), min_size=1, max_size=4))
def test_hypothesis_bit(pair, numbers: list[Any]) -> None:
    clients = pair()
    arguments = ", ".join(lua_literal(n) for n in numbers)
    for function in ("tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift", "rol", "ror",
                     "bswap"):
        same(clients, f"return {{pcall(bit.{function}, {arguments})}}")
