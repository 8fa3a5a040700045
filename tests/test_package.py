"""Package-wide rules: a sorted public API and layers that import downwards only."""

from __future__ import annotations

import ast
from pathlib import Path

import redpocket

SRC = Path(redpocket.__file__).parent


def test_all_is_sorted_and_exported() -> None:
    assert redpocket.__all__ == sorted(redpocket.__all__)
    for name in redpocket.__all__:
        assert hasattr(redpocket, name), name


def imported_modules(path: Path) -> set[str]:
    """Return the redpocket modules ``path`` imports (absolute names)."""
    package = ".".join(("redpocket", *path.relative_to(SRC).with_suffix("").parts))
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("redpocket")}


def test_engine_imports_nothing_above_it() -> None:
    for path in (SRC / "engine").rglob("*.py"):
        for module in imported_modules(path):
            assert module.startswith("redpocket.engine"), f"{path} imports {module}"


def test_only_client_and_server_import_engine() -> None:
    allowed = {"client.py", "client_async.py", "connections.py", "server", "engine", "__init__.py"}
    for path in SRC.rglob("*.py"):
        top = path.relative_to(SRC).parts[0]
        if top in allowed:
            continue
        for module in imported_modules(path):
            assert not module.startswith("redpocket.engine"), f"{path} imports {module}"
