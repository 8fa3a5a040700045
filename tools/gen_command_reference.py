"""Generate src/redpocket/engine/command_reference.py from a running redis-server 7.0."""
import sys

import redis

port = int(sys.argv[1])
out = sys.argv[2]
r = redis.Redis(port=port, protocol=3)
c = r.connection_pool.get_connection()


def raw(*a):
    c.send_command(*a)
    return c.read_response()


def conv(x):
    if isinstance(x, bytes):
        return x.decode()
    if isinstance(x, list):
        return [conv(i) for i in x]
    if isinstance(x, dict):
        return {conv(k): conv(v) for k, v in x.items()}
    return x


IMPLICIT = {"write": "@write", "readonly": "@read", "admin": "@admin", "pubsub": "@pubsub", "fast": "@fast", "blocking": "@blocking"}

info = conv(raw("COMMAND"))
docs = conv(raw("COMMAND", "DOCS"))
entries = {}


def implicit(flags, cats):
    out = set()
    for f in flags:
        if f in IMPLICIT:
            if f == "readonly" and "@scripting" in cats:
                continue
            out.add(IMPLICIT[f])
    if "admin" in flags:
        out.add("@dangerous")
    if "@fast" not in out and "@fast" not in cats:
        out.add("@slow")
    return out


def add(entry, doc):
    name, _arity, flags, _first, _last, _step, cats, tips, specs, subs = entry
    explicit = [c for c in cats if c not in implicit(flags, cats)]
    d = {k: v for k, v in doc.items() if k != "subcommands"}
    entries[name] = (explicit, tips, specs, d)
    subdocs = doc.get("subcommands", {})
    for sub in subs:
        add(sub, subdocs[sub[0]])


for e in info:
    add(e, docs[e[0]])

BSD_NOTICE = 'The data below (categories, tips, key specifications, documentation) comes\nfrom Redis 7.0.15 (https://github.com/redis/redis, src/commands/*.json), which\nis distributed under the three-clause BSD license:\n\n    Copyright (c) 2006-2020, Salvatore Sanfilippo\n    All rights reserved.\n\n    Redistribution and use in source and binary forms, with or without\n    modification, are permitted provided that the following conditions are met:\n\n    * Redistributions of source code must retain the above copyright notice,\n      this list of conditions and the following disclaimer.\n    * Redistributions in binary form must reproduce the above copyright\n      notice, this list of conditions and the following disclaimer in the\n      documentation and/or other materials provided with the distribution.\n    * Neither the name of Redis nor the names of its contributors may be used\n      to endorse or promote products derived from this software without\n      specific prior written permission.\n\n    THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"\n    AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE\n    IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE\n    ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE\n    LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR\n    CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF\n    SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS\n    INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN\n    CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)\n    ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE\n    POSSIBILITY OF SUCH DAMAGE.\n'

with open(out, "w") as fh:
    fh.write('"""Redis 7.0.15\'s own command metadata, generated from a real server: do not edit.\n\n')
    fh.write("For each command (``\"get\"``) and subcommand (``\"config|get\"``) of Redis 7.0.15:\n")
    fh.write("its explicit ACL categories (those the flags do not imply), its tips, its key\n")
    fh.write("specifications and its ``COMMAND DOCS`` map (without subcommands).  COMMAND\n")
    fh.write("INFO / DOCS combine this with the live command table (arity, flags, key\n")
    fh.write("positions come from the table, never from here).\n\n")
    fh.write("Regenerate with ``python tools/gen_command_reference.py PORT OUT`` against\n")
    fh.write("``redis-server`` 7.0.15 (COMMAND and COMMAND DOCS under RESP3).\n")
    fh.write("\n")
    fh.write(BSD_NOTICE)
    fh.write('"""\n\n')
    fh.write("from __future__ import annotations\n\n")
    fh.write("from typing import Any\n\n")
    fh.write("REFERENCE: dict[str, tuple[list[str], list[str], list[dict[str, Any]], dict[str, Any]]] = {\n")
    for name in sorted(entries):
        fh.write(f"    {name!r}: {entries[name]!r},\n")
    fh.write("}\n")
print(len(entries))
