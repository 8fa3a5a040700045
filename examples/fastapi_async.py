"""An asyncio web service on redpocket's async ORM: FastAPI endpoints that never block the event loop.

    pip install fastapi uvicorn
    uvicorn examples.fastapi_async:app          # the embedded engine, in memory
    REDPOCKET_URL=redis://localhost:6379/0 uvicorn examples.fastapi_async:app

Every endpoint awaits the ORM's ``a``-forms (``acreate``, ``aget``,
``aupdate``, ``aincr``, ``adelete``, ``async for`` over a query) on the
``connect_async()`` connection.  A pointer cannot be awaited as an
attribute: ``await task.arelated("project")`` loads it (after which
``task.project`` reads it without I/O).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

import redpocket
from redpocket import ActiveRecord, F, UniqueError, attributes


class Project(ActiveRecord):
    name = attributes.Unicode(unique=True)

    class Meta:
        namespace = "fastapi_example"


class Task(ActiveRecord):
    title = attributes.Unicode()
    done = attributes.Boolean(default=False, index=True)
    views = attributes.Integer(default=0)
    project = attributes.Pointer(Project, index=True, on_delete=attributes.CASCADE)

    class Meta:
        namespace = "fastapi_example"


class ProjectIn(BaseModel):
    name: str


class TaskIn(BaseModel):
    title: str


class TaskChange(BaseModel):
    title: str | None = None
    done: bool | None = None


def task_json(task: Task, project: Project | None = None) -> dict[str, Any]:
    """Return a task as JSON (with its project's name when loaded)."""
    body = {"id": str(task.pk), "title": task.title, "done": task.done, "views": task.views, "project": str(task._data["project"])}
    if project is not None:
        body["project_name"] = project.name
    return body


async def find_task(task_id: str) -> Task:
    """Return the task ``task_id`` or answer 404."""
    try:
        return await Task.objects.aget(id=task_id)  # type: ignore[return-value]
    except Task.DoesNotExist:
        raise HTTPException(status_code=404, detail=f"no task {task_id}") from None


def create_app(target: Any = None) -> FastAPI:
    """Build the app on an asyncio connection to ``target``: a URL or a ``redis.asyncio`` client.

    By default ``$REDPOCKET_URL``, else an in-memory engine.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redpocket.connect_async(target or os.environ.get("REDPOCKET_URL", "memory://fastapi-example"))
        yield
        await redpocket.disconnect_async()

    app = FastAPI(lifespan=lifespan)

    @app.post("/projects", status_code=201)
    async def create_project(body: ProjectIn) -> dict[str, Any]:
        try:
            project = await Project.acreate(name=body.name)
        except UniqueError:
            raise HTTPException(status_code=409, detail=f"a project is already called {body.name!r}") from None
        return {"id": str(project.pk), "name": project.name}

    @app.post("/projects/{project_id}/tasks", status_code=201)
    async def create_task(project_id: str, body: TaskIn) -> dict[str, Any]:
        try:
            project = await Project.objects.aget(id=project_id)
        except Project.DoesNotExist:
            raise HTTPException(status_code=404, detail=f"no project {project_id}") from None
        return task_json(await Task.acreate(title=body.title, project=project))  # type: ignore[arg-type]

    @app.get("/projects/{project_id}/tasks")
    async def list_tasks(project_id: str, done: bool | None = None) -> list[dict[str, Any]]:
        query = Task.objects.filter(project=project_id)
        if done is not None:
            query = query.filter(done=done)
        return [task_json(task) async for task in query.order_by("title")]  # type: ignore[arg-type]

    @app.get("/tasks/{task_id}")
    async def read_task(task_id: str) -> dict[str, Any]:
        task = await find_task(task_id)
        return task_json(task, await task.arelated("project"))

    @app.post("/tasks/{task_id}/views")
    async def view_task(task_id: str) -> dict[str, Any]:
        task = await find_task(task_id)
        return {"views": await task.aincr("views")}

    @app.patch("/tasks/{task_id}")
    async def change_task(task_id: str, body: TaskChange) -> dict[str, Any]:
        task = await find_task(task_id)
        await task.aupdate(**body.model_dump(exclude_none=True))
        return task_json(task)

    @app.delete("/tasks/{task_id}", status_code=204)
    async def delete_task(task_id: str) -> None:
        await (await find_task(task_id)).adelete()

    @app.post("/projects/{project_id}/close")
    async def close_project(project_id: str) -> dict[str, int]:
        """Mark every open task of a project done (one query, one pipelined batch)."""
        closed = await Task.objects.filter(project=project_id, done=False).aupdate(done=True, views=F("views") + 1)
        return {"closed": closed}

    @app.delete("/projects/{project_id}", status_code=204)
    async def delete_project(project_id: str) -> None:
        """Delete a project and, by cascade, its tasks (one transaction)."""
        try:
            project = await Project.objects.aget(id=project_id)
        except Project.DoesNotExist:
            raise HTTPException(status_code=404, detail=f"no project {project_id}") from None
        await project.adelete()

    @app.get("/stats")
    async def stats() -> dict[str, int]:
        return {"projects": await Project.objects.acount(), "tasks": await Task.objects.acount(),
                "open": await Task.objects.filter(done=False).acount()}

    return app


app = create_app()
