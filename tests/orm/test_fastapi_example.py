"""``examples/fastapi_async.py``: its endpoints, on the async ORM, driven in-process with ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import BACKENDS

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_async.py"


def load_example() -> Any:
    """Import the example module (once; its models register themselves)."""
    module = sys.modules.get("fastapi_async_example")
    if module is None:
        spec = importlib.util.spec_from_file_location("fastapi_async_example", EXAMPLE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fastapi_async_example"] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The embedded engine and redis-server."""
    return str(request.param)


async def test_the_endpoints_work_on_the_async_orm(make_async_client: Any, r: Any) -> None:
    example = load_example()
    app = example.create_app(make_async_client())
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        created = await http.post("/projects", json={"name": "launch"})
        assert created.status_code == 201
        project = created.json()["id"]
        assert (await http.post("/projects", json={"name": "launch"})).status_code == 409
        titles = ["write", "test", "ship"]
        tasks = [(await http.post(f"/projects/{project}/tasks", json={"title": t})).json() for t in titles]
        assert [t["title"] for t in tasks] == titles
        assert (await http.post("/projects/00000000-0000-4000-8000-000000000000/tasks", json={"title": "x"})).status_code == 404

        listed = (await http.get(f"/projects/{project}/tasks")).json()
        assert [t["title"] for t in listed] == sorted(titles)
        shown = (await http.get(f"/tasks/{tasks[0]['id']}")).json()
        assert shown["project_name"] == "launch"

        # 50 concurrent requests, each an atomic increment: all count.
        views = await asyncio.gather(*(http.post(f"/tasks/{tasks[0]['id']}/views") for _ in range(50)))
        assert sorted(v.json()["views"] for v in views) == list(range(1, 51))

        changed = (await http.patch(f"/tasks/{tasks[1]['id']}", json={"done": True})).json()
        assert changed["done"] is True
        assert [t["title"] for t in (await http.get(f"/projects/{project}/tasks", params={"done": True})).json()] == ["test"]
        assert (await http.post(f"/projects/{project}/close")).json() == {"closed": 2}
        assert (await http.get("/stats")).json() == {"projects": 1, "tasks": 3, "open": 0}

        assert (await http.delete(f"/tasks/{tasks[2]['id']}")).status_code == 204
        assert (await http.get(f"/tasks/{tasks[2]['id']}")).status_code == 404
        assert (await http.delete(f"/projects/{project}")).status_code == 204  # cascades to its tasks
        assert (await http.get("/stats")).json() == {"projects": 0, "tasks": 0, "open": 0}
    assert [k for k in r.keys("*") if not k.endswith(b":schema")] == []
