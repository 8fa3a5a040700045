"""The package's layers import only downward: this test reads every module's imports and checks them.

The layers, bottom up (STYLE.md; the package docstring lists them too).  A
module may import from its own layer and the layers below it, at module
level or inside a function; an import under ``if TYPE_CHECKING:`` names a
type for annotations only and runs at no time, so it is not counted.
``commands/persistence.py`` and ``commands/scripting.py`` are the commands
of the persistence and scripting layers and sit with them (the
``redpocket.engine`` package registers them, not ``commands/__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src"

LAYERS: list[tuple[str, list[str]]] = [
    ("replies, args, registry", [
        "redpocket.errors", "redpocket.engine.replies", "redpocket.engine.args", "redpocket.engine.registry",
        "redpocket.engine.longdouble", "redpocket.engine.blocking", "redpocket.engine.version",
        "redpocket.engine.command_reference", "redpocket.engine.categories", "redpocket.engine.lolwut",
    ]),
    ("types", ["redpocket.engine.types"]),
    ("keyspace", [
        "redpocket.engine.keyspace", "redpocket.engine.expiry", "redpocket.engine.memory", "redpocket.engine.eviction",
    ]),
    ("config, session, monitors", [
        "redpocket.engine.config", "redpocket.engine.session", "redpocket.engine.slowlog", "redpocket.engine.latency",
        "redpocket.engine.clients", "redpocket.engine.pubsub", "redpocket.engine.tracking", "redpocket.engine.acl",
        "redpocket.engine.info",
    ]),
    ("engine", ["redpocket.engine.engine"]),
    ("commands", ["redpocket.engine.commands"]),
    ("persistence, scripting, structures", [
        "redpocket.engine.persistence", "redpocket.engine.scripting", "redpocket.engine.structures",
        "redpocket.engine.commands.persistence", "redpocket.engine.commands.scripting",
        "redpocket.engine.commands.functions", "redpocket.engine.commands.dump", "redpocket.engine.functions", "redpocket.engine.lua_libraries", "redpocket.engine",
    ]),
    ("client, server", ["redpocket.client", "redpocket.server"]),
    ("connections, pipeline, keyspaces, orm", [
        "redpocket.connections", "redpocket.pipeline", "redpocket.keyspaces", "redpocket.orm", "redpocket.transfer", "redpocket",
        "redpocket.__main__",
    ]),
]


def layer_of(module: str) -> int | None:
    """Return the layer of a module: the one whose listed prefix names it most closely (None: not ours)."""
    best: tuple[int, int] | None = None
    for number, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (number, len(prefix))
    return None if best is None else best[0]


def module_name(path: Path, root: Path = SOURCE) -> tuple[str, bool]:
    """Return the dotted name of a source file under ``root`` and whether it is a package's ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    package = parts[-1] == "__init__"
    if package:
        parts.pop()
    return ".".join(parts), package


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imports_of(path: Path, root: Path = SOURCE) -> list[tuple[int, str]]:
    """Return (line, module) for every import of ``path`` that runs: module level and inside functions."""
    module, package = module_name(path, root)
    here = module.split(".") if package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # ``from package import module`` imports the module: name it when it is one of ours.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if (root / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                    root / Path(*candidate.split(".")) / "__init__.py"
                ).exists():
                    found.append((node.lineno, candidate))
                else:
                    found.append((node.lineno, target))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def upward_imports(root: Path = SOURCE) -> list[str]:
    """Return one line per import from a lower layer to a higher one, under ``root``."""
    problems = []
    for path in sorted((root / "redpocket").rglob("*.py")):
        module, _ = module_name(path, root)
        mine = layer_of(module)
        assert mine is not None, f"{module} is in no layer: add it to LAYERS"
        for line, target in imports_of(path, root):
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                problems.append(
                    f"{path.relative_to(root)}:{line}: {module} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]})"
                )
    return problems


def test_every_import_points_down() -> None:
    problems = upward_imports()
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_the_package_docstring_lists_the_layers() -> None:
    import redpocket

    doc = redpocket.__doc__ or ""
    for name, _ in LAYERS:
        assert name in doc, f"the layer {name!r} is missing from redpocket's docstring"


@pytest.mark.parametrize(("module", "layer"), [
    ("redpocket.engine.keyspace", "keyspace"),
    ("redpocket.engine.commands.strings", "commands"),
    ("redpocket.engine.commands.scripting", "persistence, scripting, structures"),
    ("redpocket.orm.model", "connections, pipeline, keyspaces, orm"),
])
def test_layer_of(module: str, layer: str) -> None:
    number = layer_of(module)
    assert number is not None and LAYERS[number][0] == layer


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    keyspace = tmp_path / "redpocket" / "engine" / "keyspace.py"
    keyspace.parent.mkdir(parents=True)
    (tmp_path / "redpocket" / "__init__.py").write_text("")
    (tmp_path / "redpocket" / "engine" / "__init__.py").write_text("")
    keyspace.write_text("def later():\n    from .commands.strings import set_\n")
    assert upward_imports(tmp_path) == [
        "redpocket/engine/keyspace.py:2: redpocket.engine.keyspace (keyspace) imports "
        "redpocket.engine.commands.strings (commands)"
    ]
