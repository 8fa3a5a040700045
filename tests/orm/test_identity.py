"""Identity traps: one class per key prefix, malformed ids, the implicit in-memory engine."""

from __future__ import annotations

import types

import pytest
import redis

from redpocket import ActiveRecord, DefinitionError, attributes


class Holder(ActiveRecord):
    email = attributes.Unicode(unique=True)


def _define_in(module_name: str, class_name: str, **meta: str) -> type:
    namespace: dict[str, object] = {"__module__": module_name, "email": attributes.Unicode()}
    if meta:
        namespace["Meta"] = type("Meta", (), meta)
    return types.new_class(class_name, (ActiveRecord,), exec_body=lambda ns: ns.update(namespace))


def test_a_second_class_claiming_the_same_prefix_is_refused() -> None:
    with pytest.raises(DefinitionError, match=r"\{redpocket:Holder\}"):
        _define_in("billing.models", "Holder")
    with pytest.raises(DefinitionError, match="already held"):
        _define_in("billing.models", "Other", name="Holder")
    # Another name or namespace is another prefix.
    _define_in("billing.models", "Holder", namespace="billing")


def test_redefining_the_same_class_is_allowed() -> None:
    first = _define_in("app.models", "Ledger")
    second = _define_in("app.models", "Ledger")  # a reload
    assert first is not second


def test_get_with_a_malformed_id_raises_does_not_exist(db: redis.Redis) -> None:
    Holder.create(email="a@x")
    with pytest.raises(Holder.DoesNotExist):
        Holder.objects.get(id="not-a-uuid")
    with pytest.raises(Holder.DoesNotExist):
        Holder.objects.all().get(id="not-a-uuid")
    with pytest.raises(Holder.DoesNotExist):
        Holder.objects.get(id=12345)
