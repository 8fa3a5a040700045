"""ByteStream access: ``record.stdout.append(b"...")`` without loading the record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attributes import ByteStream


class StreamHandle:
    """The value of a ByteStream attribute: its own Redis string key, read and appended in place."""

    __slots__ = ("attribute", "record")

    def __init__(self, record: Any, attribute: ByteStream) -> None:
        self.record = record
        self.attribute = attribute

    @property
    def key(self) -> str:
        """Return the Redis key holding the bytes."""
        record = self.record
        return str(record._keys().stream(self.attribute.name, record._ident()))

    def _client(self) -> Any:
        return type(self.record)._meta.client()

    def append(self, value: bytes | str, pipe: Any = None) -> Any:
        """APPEND ``data`` to the stored bytes (one command, no load); return the new length.

        On a record not saved yet, the bytes are buffered and written by its
        ``save()``.  ``pipe`` (a redis-py pipeline or ``redpocket.pipeline()``)
        queues the APPEND instead.
        """
        name = self.attribute.name
        record = self.record
        data: bytes = self.attribute.clean(value)
        if data is None:
            raise self.attribute.invalid(None, "cannot append None")
        pending = record._data.get(name)
        if pipe is None and (name in record._dirty or record._stored is None):
            # Not saved yet (or assigned since): buffer; the next save() writes it.
            # With a pipe, the APPEND is queued after any save queued before it.
            record._data[name] = (pending or b"") + data
            record._dirty[name] = None
            return len(record._data[name])
        target = pipe if pipe is not None else self._client()
        return target.append(self.key, data)

    def read(self) -> bytes:
        """Return the stored bytes (a pending assigned value before the record is saved)."""
        name = self.attribute.name
        if name in self.record._dirty and name in self.record._data:
            return self.record._data[name] or b""
        if self.record.pk is None:
            return b""
        value = self._client().get(self.key)
        if isinstance(value, str):
            value = value.encode()
        return value or b""

    @property
    def value(self) -> bytes:
        """Return the stored bytes."""
        return self.read()

    def __bytes__(self) -> bytes:
        return self.read()

    def __len__(self) -> int:
        name = self.attribute.name
        if name in self.record._dirty and name in self.record._data:
            return len(self.record._data[name] or b"")
        return int(self._client().strlen(self.key))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StreamHandle):
            other = other.read()
        if isinstance(other, bytes | bytearray | str):
            return self.read() == (other.encode() if isinstance(other, str) else bytes(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ByteStream {self.key!r}>"
