"""``Pointer(on_delete=...)``: CASCADE, SET_NULL, PROTECT and DO_NOTHING."""

from __future__ import annotations

import pytest
import redis

import redpocket
from redpocket import CASCADE, DO_NOTHING, PROTECT, SET_NULL, ActiveRecord, DefinitionError, ProtectedError, attributes


class Ticket(ActiveRecord):
    title = attributes.Unicode(unique=True)


class TicketNote(ActiveRecord):
    issue = attributes.Pointer(Ticket, on_delete=CASCADE)
    text = attributes.Unicode()


class NoteReaction(ActiveRecord):
    comment = attributes.Pointer(TicketNote, on_delete=CASCADE)
    emoji = attributes.Unicode(index=True)


class TicketWatcher(ActiveRecord):
    issue = attributes.Pointer(Ticket, on_delete=SET_NULL, null=True)
    name = attributes.Unicode()


class TicketMention(ActiveRecord):
    issue = attributes.Pointer(Ticket, on_delete=DO_NOTHING, null=True)


class Milestone(ActiveRecord):
    name = attributes.Unicode()


class MilestoneBlocker(ActiveRecord):
    release = attributes.Pointer(Milestone, on_delete=PROTECT)
    issue = attributes.Pointer(Ticket, on_delete=CASCADE, null=True)


def test_cascade_deletes_pointing_records_transitively(db: redis.Redis) -> None:
    issue = Ticket.create(title="crash")
    other = Ticket.create(title="other")
    comments = [TicketNote.create(issue=issue, text=f"c{n}") for n in range(3)]
    kept = TicketNote.create(issue=other, text="kept")
    NoteReaction.create(comment=comments[0], emoji="+1")
    NoteReaction.create(comment=kept, emoji="+1")
    assert issue.delete() > 0
    assert [c.id for c in TicketNote.objects.all()] == [kept.id]
    assert [r.comment.id for r in NoteReaction.objects.all()] == [kept.id]
    assert NoteReaction.objects.filter(emoji="+1").count() == 1
    for model in (Ticket, TicketNote, NoteReaction):
        assert model.objects.check() == []
    assert Ticket.objects.get(title="other")
    Ticket.create(title="crash")  # the unique claim was released


def test_set_null_clears_the_pointer_and_its_index(db: redis.Redis) -> None:
    issue = Ticket.create(title="crash")
    watcher = TicketWatcher.create(issue=issue, name="ann")
    issue.delete()
    fresh = TicketWatcher.objects.get(id=watcher.id)
    assert fresh.issue is None and fresh.name == "ann"
    assert TicketWatcher.objects.filter(issue=issue.id).count() == 0
    assert TicketWatcher.objects.check() == []


def test_protect_refuses_and_writes_nothing(db: redis.Redis) -> None:
    release = Milestone.create(name="1.0")
    issue = Ticket.create(title="crash")
    blocker = MilestoneBlocker.create(release=release, issue=issue)
    comment = TicketNote.create(issue=issue, text="x")
    with pytest.raises(ProtectedError) as caught:
        release.delete()
    assert caught.value.protected == [blocker]
    assert Milestone.objects.count() == 1
    # Deleting the issue cascades to the blocker, which does not protect anything being deleted.
    issue.delete()
    assert MilestoneBlocker.objects.count() == 0 and TicketNote.objects.filter(id=comment.id).count() == 0
    release.delete()
    assert Milestone.objects.count() == 0


def test_protect_on_a_cascaded_record_stops_the_whole_delete(db: redis.Redis) -> None:
    class OdShelf(ActiveRecord):
        name = attributes.Unicode()

    class OdBook(ActiveRecord):
        shelf = attributes.Pointer(OdShelf, on_delete=CASCADE)

    class OdLoan(ActiveRecord):
        book = attributes.Pointer(OdBook, on_delete=PROTECT)

    shelf = OdShelf.create(name="s")
    book = OdBook.create(shelf=shelf)
    OdLoan.create(book=book)
    with pytest.raises(ProtectedError):
        shelf.delete()
    assert OdShelf.objects.count() == 1 and OdBook.objects.count() == 1


def test_do_nothing_leaves_a_dangling_pointer(db: redis.Redis) -> None:
    issue = Ticket.create(title="crash")
    mention = TicketMention.create(issue=issue)
    issue.delete()
    assert TicketMention.objects.get(id=mention.id).issue is None  # dangling, read as None (null=True)


def test_queryset_delete_follows_on_delete(db: redis.Redis) -> None:
    issues = [Ticket.create(title=f"i{n}") for n in range(4)]
    for issue in issues:
        TicketNote.create(issue=issue, text="c")
        TicketWatcher.create(issue=issue, name="w")
    assert Ticket.objects.delete() == 4
    assert TicketNote.objects.count() == 0
    assert TicketWatcher.objects.count() == 4 and all(w.issue is None for w in TicketWatcher.objects.all())


def test_delete_in_a_pipeline_context_queues_the_cascade(db: redis.Redis) -> None:
    issue = Ticket.create(title="crash")
    TicketNote.create(issue=issue, text="c")
    with redpocket.pipeline() as pipe:
        deleted = issue.delete(pipe=pipe)
    assert deleted.result > 0
    assert TicketNote.objects.count() == 0


def test_on_delete_is_checked_at_definition() -> None:
    assert attributes.Pointer(Ticket, on_delete=SET_NULL).null  # SET_NULL implies null=True
    with pytest.raises(DefinitionError):
        attributes.Pointer(Ticket, on_delete="RESTRICT")
    assert TicketNote._meta.attributes["issue"].index == "equality"  # on_delete implies the index that finds dependents
