"""``Pointer(on_delete=...)``: CASCADE, SET_NULL, PROTECT and DO_NOTHING."""

from __future__ import annotations

import pytest
import redis

import redpocket
from redpocket import CASCADE, DO_NOTHING, PROTECT, SET_NULL, ActiveRecord, DefinitionError, ProtectedError, attributes


class Issue(ActiveRecord):
    title = attributes.Unicode(unique=True)


class Comment(ActiveRecord):
    issue = attributes.Pointer(Issue, on_delete=CASCADE)
    text = attributes.Unicode()


class Reaction(ActiveRecord):
    comment = attributes.Pointer(Comment, on_delete=CASCADE)
    emoji = attributes.Unicode(index=True)


class Watcher(ActiveRecord):
    issue = attributes.Pointer(Issue, on_delete=SET_NULL, null=True)
    name = attributes.Unicode()


class Mention(ActiveRecord):
    issue = attributes.Pointer(Issue, on_delete=DO_NOTHING, null=True)


class Release(ActiveRecord):
    name = attributes.Unicode()


class Blocker(ActiveRecord):
    release = attributes.Pointer(Release, on_delete=PROTECT)
    issue = attributes.Pointer(Issue, on_delete=CASCADE, null=True)


def test_cascade_deletes_pointing_records_transitively(db: redis.Redis) -> None:
    issue = Issue.create(title="crash")
    other = Issue.create(title="other")
    comments = [Comment.create(issue=issue, text=f"c{n}") for n in range(3)]
    kept = Comment.create(issue=other, text="kept")
    Reaction.create(comment=comments[0], emoji="+1")
    Reaction.create(comment=kept, emoji="+1")
    assert issue.delete() > 0
    assert [c.id for c in Comment.objects.all()] == [kept.id]
    assert [r.comment.id for r in Reaction.objects.all()] == [kept.id]
    assert Reaction.objects.filter(emoji="+1").count() == 1
    for model in (Issue, Comment, Reaction):
        assert model.objects.check() == []
    assert Issue.objects.get(title="other")
    Issue.create(title="crash")  # the unique claim was released


def test_set_null_clears_the_pointer_and_its_index(db: redis.Redis) -> None:
    issue = Issue.create(title="crash")
    watcher = Watcher.create(issue=issue, name="ann")
    issue.delete()
    fresh = Watcher.objects.get(id=watcher.id)
    assert fresh.issue is None and fresh.name == "ann"
    assert Watcher.objects.filter(issue=issue.id).count() == 0
    assert Watcher.objects.check() == []


def test_protect_refuses_and_writes_nothing(db: redis.Redis) -> None:
    release = Release.create(name="1.0")
    issue = Issue.create(title="crash")
    blocker = Blocker.create(release=release, issue=issue)
    comment = Comment.create(issue=issue, text="x")
    with pytest.raises(ProtectedError) as caught:
        release.delete()
    assert caught.value.protected == [blocker]
    assert Release.objects.count() == 1
    # Deleting the issue cascades to the blocker, which does not protect anything being deleted.
    issue.delete()
    assert Blocker.objects.count() == 0 and Comment.objects.filter(id=comment.id).count() == 0
    release.delete()
    assert Release.objects.count() == 0


def test_protect_on_a_cascaded_record_stops_the_whole_delete(db: redis.Redis) -> None:
    class Shelf(ActiveRecord):
        name = attributes.Unicode()

    class Book(ActiveRecord):
        shelf = attributes.Pointer(Shelf, on_delete=CASCADE)

    class Loan(ActiveRecord):
        book = attributes.Pointer(Book, on_delete=PROTECT)

    shelf = Shelf.create(name="s")
    book = Book.create(shelf=shelf)
    Loan.create(book=book)
    with pytest.raises(ProtectedError):
        shelf.delete()
    assert Shelf.objects.count() == 1 and Book.objects.count() == 1


def test_do_nothing_leaves_a_dangling_pointer(db: redis.Redis) -> None:
    issue = Issue.create(title="crash")
    mention = Mention.create(issue=issue)
    issue.delete()
    assert Mention.objects.get(id=mention.id).issue is None  # dangling, read as None (null=True)


def test_queryset_delete_follows_on_delete(db: redis.Redis) -> None:
    issues = [Issue.create(title=f"i{n}") for n in range(4)]
    for issue in issues:
        Comment.create(issue=issue, text="c")
        Watcher.create(issue=issue, name="w")
    assert Issue.objects.delete() == 4
    assert Comment.objects.count() == 0
    assert Watcher.objects.count() == 4 and all(w.issue is None for w in Watcher.objects.all())


def test_delete_in_a_pipeline_context_queues_the_cascade(db: redis.Redis) -> None:
    issue = Issue.create(title="crash")
    Comment.create(issue=issue, text="c")
    with redpocket.pipeline() as pipe:
        deleted = issue.delete(pipe=pipe)
    assert deleted.result > 0
    assert Comment.objects.count() == 0


def test_on_delete_is_checked_at_definition() -> None:
    with pytest.raises(DefinitionError):
        class Bad(ActiveRecord):
            issue = attributes.Pointer(Issue, on_delete=SET_NULL)  # SET_NULL needs null=True

    with pytest.raises(DefinitionError):
        attributes.Pointer(Issue, on_delete="RESTRICT")
    assert Comment._meta.attributes["issue"].index == "equality"  # on_delete implies the index that finds dependents
