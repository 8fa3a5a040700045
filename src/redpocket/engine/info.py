"""The text of ``INFO``: Redis 7.0's sections, field names and layout.

Each section is ``# Name\\r\\n`` followed by ``field:value\\r\\n`` lines;
sections are separated by one empty line (``\\r\\n``), and the order is
always Redis's, whatever the order asked for.  Fields describing things
the embedded engine does not have (forks, replication links, TLS, network
bytes) keep the values an idle Redis shows, so parsers find every field.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import TYPE_CHECKING, Final

from .memory import STARTUP_MEMORY
from .version import REDIS_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .engine import Engine
    from .registry import CommandSpec

SECTIONS: Final = (
    "server", "clients", "memory", "persistence", "stats", "replication", "cpu",
    "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace",
)
DEFAULT_SECTIONS: Final = frozenset(SECTIONS) - {"commandstats", "latencystats"}
ALL_SECTIONS: Final = frozenset(SECTIONS)

RUN_ID: Final = os.urandom(20).hex()
REPLICATION_ID: Final = os.urandom(20).hex()


def select_sections(arguments: Iterable[str]) -> list[str]:
    """Return the sections ``INFO arguments...`` shows, in Redis's order (no argument: ``default``)."""
    wanted: set[str] = set()
    empty = True
    for argument in arguments:
        empty = False
        name = argument.lower()
        if name == "default":
            wanted |= DEFAULT_SECTIONS
        elif name in ("all", "everything"):
            wanted |= ALL_SECTIONS
        else:
            wanted.add(name)
    if empty:
        wanted = set(DEFAULT_SECTIONS)
    return [name for name in SECTIONS if name in wanted]


def bytes_to_human(n: int) -> str:
    """Format a byte count as Redis's ``bytesToHuman`` (``919.47K``, ``6.31M``)."""
    if n < 1024:
        return f"{n}B"
    for power, unit in ((2, "K"), (3, "M"), (4, "G"), (5, "T"), (6, "P")):
        if n < 1024**power:
            return "%.2f%s" % (n / 1024 ** (power - 1), unit)
    return f"{n}B"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def used_memory(engine: Engine) -> int:
    """Return ``used_memory`` (``Engine.used_memory``, see memory.py) and raise the recorded peak to it."""
    used = engine.used_memory()
    if used > engine.peak_memory:
        engine.peak_memory = used
    return used


def rss_bytes() -> int:
    """Return this process's resident set size in bytes (``used_memory_rss``)."""
    return _rss_bytes()


def _server(engine: Engine, current: CommandSpec | None) -> list[str]:
    now = time.time()
    uptime = int(now - engine.started)
    uname = platform.uname()
    return [
        f"redis_version:{REDIS_VERSION}",
        "redis_git_sha1:00000000",
        "redis_git_dirty:0",
        "redis_build_id:0",
        "redis_mode:standalone",
        f"os:{uname.system} {uname.release} {uname.machine}",
        "arch_bits:64" if sys.maxsize > 2**32 else "arch_bits:32",
        "monotonic_clock:POSIX clock_gettime",
        "multiplexing_api:epoll",
        "atomicvar_api:c11-builtin",
        "gcc_version:0.0.0",
        f"process_id:{os.getpid()}",
        "process_supervised:no",
        f"run_id:{RUN_ID}",
        f"tcp_port:{engine.config.get('port')}",
        f"server_time_usec:{int(now * 1_000_000)}",
        f"uptime_in_seconds:{uptime}",
        f"uptime_in_days:{uptime // 86400}",
        f"hz:{engine.config.hz}",
        f"configured_hz:{engine.config.hz}",
        f"lru_clock:{int(now) & ((1 << 24) - 1)}",
        f"executable:{sys.executable}",
        f"config_file:{engine.config.config_file}",
        "io_threads_active:0",
    ]


def _clients(engine: Engine, current: CommandSpec | None) -> list[str]:
    from .tracking import counts

    return [
        f"connected_clients:{len(engine.sessions)}",
        "cluster_connections:0",
        f"maxclients:{engine.config.get('maxclients')}",
        "client_recent_max_input_buffer:0",
        "client_recent_max_output_buffer:0",
        f"blocked_clients:{engine.blocked_clients}",
        f"tracking_clients:{counts(engine)[0]}",
        "clients_in_timeout_table:0",
    ]


def _memory(engine: Engine, current: CommandSpec | None) -> list[str]:
    used = used_memory(engine)
    peak = engine.peak_memory
    rss = _rss_bytes()
    system = _total_system_memory()
    maxmemory = int(engine.config.get("maxmemory"))
    dataset = used - STARTUP_MEMORY
    libraries = engine.extensions.get("functions")  # (functions.FunctionLibraries, once used)
    scripts = len(getattr(engine, "scripts", {}))
    return [
        f"used_memory:{used}",
        f"used_memory_human:{bytes_to_human(used)}",
        f"used_memory_rss:{rss}",
        f"used_memory_rss_human:{bytes_to_human(rss)}",
        f"used_memory_peak:{peak}",
        f"used_memory_peak_human:{bytes_to_human(peak)}",
        "used_memory_peak_perc:%.2f%%" % (used * 100 / peak),
        f"used_memory_overhead:{STARTUP_MEMORY}",
        f"used_memory_startup:{STARTUP_MEMORY}",
        f"used_memory_dataset:{dataset}",
        "used_memory_dataset_perc:%.2f%%" % (dataset * 100 / used),
        f"allocator_allocated:{used}",
        f"allocator_active:{used}",
        f"allocator_resident:{rss}",
        f"total_system_memory:{system}",
        f"total_system_memory_human:{bytes_to_human(system)}",
        "used_memory_lua:32768",
        "used_memory_vm_eval:32768",
        "used_memory_lua_human:32.00K",
        "used_memory_scripts_eval:0",
        f"number_of_cached_scripts:{scripts}",
        f"number_of_functions:{len(libraries.functions) if libraries is not None else 0}",
        f"number_of_libraries:{len(libraries.libraries) if libraries is not None else 0}",
        "used_memory_vm_functions:32768",
        "used_memory_vm_total:65536",
        "used_memory_vm_total_human:64.00K",
        "used_memory_functions:0",
        "used_memory_scripts:0",
        "used_memory_scripts_human:0B",
        f"maxmemory:{maxmemory}",
        f"maxmemory_human:{bytes_to_human(maxmemory)}",
        f"maxmemory_policy:{engine.config.get('maxmemory-policy')}",
        "allocator_frag_ratio:1.00",
        "allocator_frag_bytes:0",
        "allocator_rss_ratio:1.00",
        "allocator_rss_bytes:0",
        "rss_overhead_ratio:1.00",
        "rss_overhead_bytes:0",
        "mem_fragmentation_ratio:%.2f" % (rss / used),
        f"mem_fragmentation_bytes:{rss - used}",
        "mem_not_counted_for_evict:0",
        "mem_replication_backlog:0",
        "mem_total_replication_buffers:0",
        "mem_clients_slaves:0",
        "mem_clients_normal:0",
        "mem_cluster_links:0",
        "mem_aof_buffer:0",
        "mem_allocator:libc",
        "active_defrag_running:0",
        "lazyfree_pending_objects:0",
        "lazyfreed_objects:0",
    ]


def _persistence(engine: Engine, current: CommandSpec | None) -> list[str]:
    aof = engine.config.get("appendonly") == "yes"
    lines = [
        "loading:0",
        "async_loading:0",
        "current_cow_peak:0",
        "current_cow_size:0",
        "current_cow_size_age:0",
        "current_fork_perc:0.00",
        "current_save_keys_processed:0",
        "current_save_keys_total:0",
        f"rdb_changes_since_last_save:{engine.dirty}",
        "rdb_bgsave_in_progress:0",
        f"rdb_last_save_time:{int(getattr(engine, 'lastsave', engine.started))}",
        "rdb_last_bgsave_status:ok",
        "rdb_last_bgsave_time_sec:-1",
        "rdb_current_bgsave_time_sec:-1",
        "rdb_saves:0",
        "rdb_last_cow_size:0",
        "rdb_last_load_keys_expired:0",
        "rdb_last_load_keys_loaded:0",
        f"aof_enabled:{int(aof)}",
        "aof_rewrite_in_progress:0",
        "aof_rewrite_scheduled:0",
        "aof_last_rewrite_time_sec:-1",
        "aof_current_rewrite_time_sec:-1",
        "aof_last_bgrewrite_status:ok",
        "aof_rewrites:0",
        "aof_rewrites_consecutive_failures:0",
        "aof_last_write_status:ok",
        "aof_last_cow_size:0",
        "module_fork_in_progress:0",
        "module_fork_last_cow_size:0",
    ]
    persistence = engine.extensions.get("persistence")  # (persistence/manager.py attaches itself here)
    if persistence is not None:
        known = persistence.info()
        lines = [
            f"{name}:{known[name]}" if name in known else line
            for line in lines
            for name in (line.split(":", 1)[0],)
        ]
    return lines


def _all_specs(engine: Engine) -> Iterable[CommandSpec]:
    for spec in engine.commands.values():
        yield spec
        yield from spec.subcommands.values()


def _stats(engine: Engine, current: CommandSpec | None) -> list[str]:
    # Commands are counted once they have run, so the INFO being answered is not in its own numbers.
    from .tracking import counts

    processed = engine.commands_processed
    exceeded_total, exceeded_current = engine.evictor.exceeded_seconds()
    _, tracked_keys, tracked_items, tracked_prefixes = counts(engine)
    return [
        f"total_connections_received:{engine.connections_received}",
        f"total_commands_processed:{processed}",
        "instantaneous_ops_per_sec:0",
        "total_net_input_bytes:0",
        "total_net_output_bytes:0",
        "total_net_repl_input_bytes:0",
        "total_net_repl_output_bytes:0",
        "instantaneous_input_kbps:0.00",
        "instantaneous_output_kbps:0.00",
        "instantaneous_input_repl_kbps:0.00",
        "instantaneous_output_repl_kbps:0.00",
        "rejected_connections:0",
        *_sync_counts(engine),
        f"expired_keys:{engine.expired_keys}",
        "expired_stale_perc:0.00",
        "expired_time_cap_reached_count:0",
        "expire_cycle_cpu_milliseconds:0",
        f"evicted_keys:{engine.evictor.evicted_keys}",
        "evicted_clients:0",
        f"total_eviction_exceeded_time:{int(exceeded_total * 1000)}",
        f"current_eviction_exceeded_time:{int(exceeded_current * 1000)}",
        f"keyspace_hits:{engine.keyspace_hits}",
        f"keyspace_misses:{engine.keyspace_misses}",
        "pubsub_channels:0",
        "pubsub_patterns:0",
        "pubsubshard_channels:0",
        "latest_fork_usec:0",
        "total_forks:0",
        "migrate_cached_sockets:0",
        "slave_expires_tracked_keys:0",
        "active_defrag_hits:0",
        "active_defrag_misses:0",
        "active_defrag_key_hits:0",
        "active_defrag_key_misses:0",
        "total_active_defrag_time:0",
        "current_active_defrag_time:0",
        f"tracking_total_keys:{tracked_keys}",
        f"tracking_total_items:{tracked_items}",
        f"tracking_total_prefixes:{tracked_prefixes}",
        "unexpected_error_replies:0",
        f"total_error_replies:{engine.total_error_replies}",
        "dump_payload_sanitizations:0",
        f"total_reads_processed:{processed}",
        f"total_writes_processed:{processed}",
        "io_threaded_reads_processed:0",
        "io_threaded_writes_processed:0",
        "reply_buffer_shrinks:0",
        "reply_buffer_expands:0",
    ]


def _sync_counts(engine: Engine) -> list[str]:
    replication = engine.extensions.get("replication")  # (the TCP server's replication, once it serves any)
    if replication is not None:
        return replication.sync_counts()  # type: ignore[no-any-return]
    return ["sync_full:0", "sync_partial_ok:0", "sync_partial_err:0"]


def _replication(engine: Engine, current: CommandSpec | None) -> list[str]:
    replication = engine.extensions.get("replication")
    if replication is not None:
        return replication.info_lines()  # type: ignore[no-any-return]
    return [
        "role:master",
        "connected_slaves:0",
        "master_failover_state:no-failover",
        f"master_replid:{REPLICATION_ID}",
        "master_replid2:0000000000000000000000000000000000000000",
        "master_repl_offset:0",
        "second_repl_offset:-1",
        "repl_backlog_active:0",
        f"repl_backlog_size:{engine.config.get('repl-backlog-size')}",
        "repl_backlog_first_byte_offset:0",
        "repl_backlog_histlen:0",
    ]


def _cpu(engine: Engine, current: CommandSpec | None) -> list[str]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        "used_cpu_sys:%f" % own.ru_stime,
        "used_cpu_user:%f" % own.ru_utime,
        "used_cpu_sys_children:%f" % children.ru_stime,
        "used_cpu_user_children:%f" % children.ru_utime,
        "used_cpu_sys_main_thread:%f" % own.ru_stime,
        "used_cpu_user_main_thread:%f" % own.ru_utime,
    ]


def _safe_name(name: str) -> str:
    for char in "#:\n\r":
        name = name.replace(char, "_")
    return name


def _commandstats(engine: Engine, current: CommandSpec | None) -> list[str]:
    lines = []
    for spec in _all_specs(engine):
        calls = spec.calls
        if calls or spec.failed_calls or spec.rejected_calls:
            usec = int(spec.seconds * 1e6)
            lines.append(
                f"cmdstat_{_safe_name(spec.fullname)}:calls={calls},usec={usec},"
                f"usec_per_call={usec / calls if calls else 0:.2f},"
                f"rejected_calls={spec.rejected_calls},failed_calls={spec.failed_calls}"
            )
    return lines


def _errorstats(engine: Engine, current: CommandSpec | None) -> list[str]:
    # Redis keeps the codes in a radix tree: they come out in byte order.
    counts = engine.error_replies
    return [f"errorstat_{_safe_name(code)}:count={counts[code]}" for code in sorted(counts, key=_code_order)]


def _code_order(code: str) -> bytes:
    return code.encode("utf-8", "surrogateescape")


def _empty(engine: Engine, current: CommandSpec | None) -> list[str]:
    return []


def _cluster(engine: Engine, current: CommandSpec | None) -> list[str]:
    return ["cluster_enabled:0"]


def _keyspace(engine: Engine, current: CommandSpec | None) -> list[str]:
    lines = []
    for db in engine.databases:
        if db.data:
            lines.append(f"db{db.index}:keys={len(db.data)},expires={len(db.expires)},avg_ttl=0")
    return lines


_BUILDERS: Final[dict[str, Callable[[Engine, CommandSpec | None], list[str]]]] = {
    "server": _server,
    "clients": _clients,
    "memory": _memory,
    "persistence": _persistence,
    "stats": _stats,
    "replication": _replication,
    "cpu": _cpu,
    "modules": _empty,
    "commandstats": _commandstats,
    "errorstats": _errorstats,
    "latencystats": _empty,
    "cluster": _cluster,
    "keyspace": _keyspace,
}


_TITLES: Final = {"cpu": "CPU"}


def info_text(engine: Engine, arguments: Iterable[str] = (), current: CommandSpec | None = None) -> bytes:
    """Build the ``INFO`` reply text for the requested sections.

    ``current`` is the spec of the command producing the text (``INFO``
    itself), left out of the statistics as Redis counts it only afterwards.
    """
    parts = []
    for name in select_sections(arguments):
        body = "".join(line + "\r\n" for line in _BUILDERS[name](engine, current))
        parts.append(f"# {_TITLES.get(name, name.capitalize())}\r\n{body}")
    return "\r\n".join(parts).encode()
