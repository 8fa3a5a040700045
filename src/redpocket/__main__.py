"""The ``redpocket`` command line: ``redpocket serve`` runs the engine as a Redis-protocol server.

::

    redpocket serve [redis.conf] [--host 127.0.0.1] [--port 6380] [--dir DIR]
                    [--appendonly yes|no] [--appendfsync always|everysec|no]
                    [--requirepass PW] [--maxclients N] [--load module:Structure ...]
                    [--any-redis-option value ...]

    redpocket migrate module:Model [module:Model ...] [--url URL]

    redpocket export [--from SOURCE] --to DESTINATION [--pattern GLOB | --model module:Model ...]
                     [--batch N] [--state FILE] [--progress | --no-progress]
    redpocket import --from SOURCE [--to DESTINATION] [the same options]

Options given on the command line override the configuration file, as with
``redis-server``; any other ``--name value`` is a Redis configuration
setting (``--notify-keyspace-events KEA``, ``--hz 50``).

``redpocket migrate`` imports each model and runs ``Model.objects.migrate()``
(see ``redpocket.orm.schema``) on ``--url`` (default: ``REDPOCKET_URL``, or
the connection the module itself makes on import).

``redpocket export`` / ``redpocket import`` copy keys between two stores
(:mod:`redpocket.transfer`): a URL (``memory://``, ``file:///dir``,
``redis://``, ``redis+cluster://``) or, as the source, an RDB file.  The
side not given is ``REDPOCKET_URL`` (export copies *from* it, import
*into* it).  The progress is kept in a state file (default
``.redpocket-transfer-<hash>.json`` in the working directory), so running
the same command again after an interruption goes on where it stopped.
Exit status: 0 copied and verified, 1 keys not copied (listed), 2 bad
arguments or an end that cannot be reached or read, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from typing import Any

_SERVER_OPTIONS = ("bind", "port", "dir", "appendonly", "appendfsync", "requirepass", "maxclients",
                   "loglevel", "logfile", "protected-mode")
_IGNORED = frozenset({"daemonize", "supervised", "pidfile"})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redpocket", description="redpocket: Redis as the main data store for Python")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the engine as a Redis-protocol TCP server")
    serve.add_argument("config_file", nargs="?", help="a configuration file in redis.conf syntax")
    serve.add_argument("--host", "--bind", dest="bind", help="addresses to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default 6380; 0 picks a free one)")
    serve.add_argument("--dir", help="directory of the persistence files")
    serve.add_argument("--appendonly", choices=["yes", "no"], help="keep an append-only file")
    serve.add_argument("--appendfsync", choices=["always", "everysec", "no"], help="when to fsync the append-only file")
    serve.add_argument("--requirepass", help="password clients must AUTH with")
    serve.add_argument("--maxclients", type=int, help="most clients connected at once (default 10000)")
    serve.add_argument("--protected-mode", dest="protected_mode", choices=["yes", "no"])
    serve.add_argument("--loglevel", choices=["debug", "verbose", "notice", "warning"])
    serve.add_argument("--logfile", help="log to this file instead of stderr")
    serve.add_argument("--replicaof", nargs=2, metavar=("HOST", "PORT"),
                       help="replicate this master (a Redis or redpocket server; REPLICAOF NO ONE stops)")
    serve.add_argument("--load", action="append", default=[], metavar="module:Structure",
                       help="register a custom structure class (repeatable)")
    migrate = commands.add_parser("migrate", help="apply a model's schema changes (build indexes, fill defaults ...)")
    migrate.add_argument("models", nargs="+", metavar="module:Model", help="the model classes to migrate")
    migrate.add_argument("--url", help="the connection URL (default: REDPOCKET_URL or the module's own connect())")
    for name, verb in (("export", "copy keys from this store (--from, default REDPOCKET_URL) to another"),
                       ("import", "copy keys from another store into this one (--to, default REDPOCKET_URL)")):
        command = commands.add_parser(name, help=verb)
        command.add_argument("--from", dest="source", metavar="SOURCE", help="a URL or an RDB file")
        command.add_argument("--to", dest="destination", metavar="DESTINATION", help="a URL")
        selection = command.add_mutually_exclusive_group()
        selection.add_argument("--pattern", help="copy the keys matching this SCAN pattern (default: every key)")
        selection.add_argument("--model", dest="models", action="append", default=[], metavar="module:Model",
                               help="copy the keys of this ORM model (repeatable)")
        command.add_argument("--batch", type=int, default=1000, help="keys per pipelined batch (default 1000)")
        command.add_argument("--state", help="the state file that makes the transfer resumable")
        command.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                             help="draw a progress bar (default: when stderr is a terminal; else plain counts)")
    return parser


def migrate(args: argparse.Namespace) -> int:
    """Run ``redpocket migrate module:Model ...``."""
    from . import connections

    if args.url:
        connections.connect(args.url)
    status = 0
    for spec in args.models:
        module_name, _, name = spec.partition(":")
        if not module_name or not name:
            print(f"redpocket migrate: expected module:Model, not {spec!r}", file=sys.stderr)
            return 2
        try:
            model: Any = importlib.import_module(module_name)
            for part in name.split("."):
                model = getattr(model, part)
        except (ImportError, AttributeError) as error:
            print(f"redpocket migrate: cannot import {spec}: {error}", file=sys.stderr)
            return 2
        if not hasattr(model, "objects") or not hasattr(model, "_meta"):
            print(f"redpocket migrate: {spec} is not a model class", file=sys.stderr)
            return 2
        from .errors import MigrationError

        try:
            print(model.objects.migrate())
        except MigrationError as error:
            print(f"redpocket migrate: {error}", file=sys.stderr)
            status = 1
    return status


def _progress(bar: bool) -> Any:
    """Return the progress callback: a bar redrawn in place on a terminal, else a line per tenth of the work."""
    started = time.perf_counter()
    reported = [-1]

    def draw(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        if bar:
            width = 40
            filled = width * done // max(total, 1)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} keys ({rate:,.0f} keys/s)")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        else:
            tenth = 10 * done // max(total, 1)
            if tenth != reported[0]:
                reported[0] = tenth
                print(f"{done}/{total} keys", file=sys.stderr, flush=True)

    return draw


def transfer(args: argparse.Namespace) -> int:
    """Run ``redpocket export`` or ``redpocket import``."""
    import hashlib
    import os

    from .errors import RedpocketError
    from .transfer import transfer as copy_keys

    here = os.environ.get("REDPOCKET_URL")
    source, destination = args.source, args.destination
    if args.command == "export":
        source = source or here
    else:
        destination = destination or here
    if not source or not destination:
        missing = "--from" if not source else "--to"
        print(f"redpocket {args.command}: give {missing} (or set REDPOCKET_URL)", file=sys.stderr)
        return 2
    state = args.state
    if state is None:
        what = "\0".join([str(source), str(destination), args.pattern or "", *args.models])
        state = f".redpocket-transfer-{hashlib.sha1(what.encode()).hexdigest()[:12]}.json"
    bar = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        report = copy_keys(source, destination, pattern=args.pattern, models=args.models, batch=args.batch,
                           state_file=state, progress=_progress(bar))
    except KeyboardInterrupt:
        print(f"\nredpocket {args.command}: interrupted; run the same command again to go on (state in {state})",
              file=sys.stderr)
        return 130
    except RedpocketError as error:
        print(f"redpocket {args.command}: {error}", file=sys.stderr)
        from .errors import TransferError

        return 1 if isinstance(error, TransferError) and error.failed else 2
    except (OSError, ValueError) as error:  # (a file that is not an RDB file, an unreadable state file ...)
        print(f"redpocket {args.command}: {error}", file=sys.stderr)
        return 2
    print(f"{report} ({report.keys_per_second:,.0f} keys/s)")
    return 0


def _extra_settings(words: list[str]) -> list[tuple[str, str]]:
    """Turn ``--name value ...`` words left over by argparse into settings, as redis-server does."""
    settings: list[tuple[str, str]] = []
    name: str | None = None
    values: list[str] = []
    for word in words:
        if word.startswith("--"):
            if name is not None:
                settings.append((name, " ".join(values)))
            name, values = word[2:].lower(), []
        elif name is None:
            raise SystemExit(f"redpocket serve: unexpected argument {word!r}")
        else:
            values.append(word)
    if name is not None:
        settings.append((name, " ".join(values)))
    return settings


def load_structure(spec: str) -> Any:
    """Import ``module:Structure`` and return the class."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"--load wants module:Structure, not {spec!r}")
    return getattr(importlib.import_module(module_name), attribute)


def serve(args: argparse.Namespace, extra: list[str]) -> int:
    """Run ``redpocket serve``."""
    from .server import Server
    from .server.config import ConfigFileError, read_config_file
    from .server.logs import configure_logging

    settings: dict[str, str] = {}
    if args.config_file:
        try:
            settings.update(read_config_file(args.config_file))
        except (ConfigFileError, OSError) as error:
            print(error, file=sys.stderr)
            return 1
    settings.update(_extra_settings(extra))
    for option in _SERVER_OPTIONS:
        value = getattr(args, option.replace("-", "_"), None)
        if value is not None:
            settings[option] = str(value)
    if args.replicaof is not None:
        settings["replicaof"] = " ".join(args.replicaof)
    configure_logging(settings.pop("loglevel", "notice"), settings.pop("logfile", ""))
    host = settings.pop("bind", "127.0.0.1").replace("* -::*", "0.0.0.0")
    port = int(settings.pop("port", "6380"))
    engine_settings = {name: value for name, value in settings.items() if name not in _IGNORED}
    try:
        # --dir means "persist here" even without --appendonly yes: dump.rdb is loaded and saved there.
        server = Server(host=host, port=port, dir=engine_settings.pop("dir", None), config=engine_settings)
    except ValueError as error:
        print(f"\n*** FATAL CONFIG FILE ERROR ***\n{error}\nBad directive or wrong number of arguments",
              file=sys.stderr)
        return 1
    for spec in args.load:
        server.add_structure(load_structure(spec))
    server.start()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``redpocket`` script."""
    args, extra = _parser().parse_known_args(argv)
    if args.command == "serve":
        return serve(args, extra)
    if args.command == "migrate":
        if extra:
            print(f"redpocket migrate: unexpected arguments {' '.join(extra)}", file=sys.stderr)
            return 2
        return migrate(args)
    if args.command in ("export", "import"):
        if extra:
            print(f"redpocket {args.command}: unexpected arguments {' '.join(extra)}", file=sys.stderr)
            return 2
        return transfer(args)
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
