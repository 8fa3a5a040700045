"""Memo's spelling suggestions: words close to a misspelled one, by edit distance.

``SUGGESTADD key word [word ...]`` teaches words (each call counts one
occurrence); ``SUGGEST key word [DISTANCE n] [COUNT n]`` replies with the
known words within ``n`` edits (default 2) of ``word``: the closest first,
then the most frequent, then alphabetically.
"""

from __future__ import annotations

from redpocket.engine import ReplyError, Structure, command
from redpocket.engine.structures import pack, unpack


def edit_distance(first: bytes, second: bytes, limit: int) -> int:
    """Return the Levenshtein distance between two words, or ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(first) - len(second)) > limit:
        return limit + 1
    previous = list(range(len(second) + 1))
    for i, left in enumerate(first, 1):
        current = [i]
        for j, right in enumerate(second, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


class Suggest(Structure):
    """A vocabulary with word counts, answering "did you mean ...?"."""

    type_name = "suggest"

    def __init__(self) -> None:
        self.counts: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.counts)

    @command("SUGGESTADD", creates=True, arity=-3)
    def add(self, *words: bytes) -> int:
        """SUGGESTADD key word [word ...]: count the words; reply with how many were new."""
        new = 0
        for word in words:
            word = word.lower()
            if word not in self.counts:
                new += 1
            self.counts[word] = self.counts.get(word, 0) + 1
        return new

    @command("SUGGEST", flags="readonly", arity=-3, missing=[])
    def suggest(self, word: bytes, *options: bytes) -> list[bytes]:
        """SUGGEST key word [DISTANCE n] [COUNT n]: reply with the known words closest to ``word``."""
        limit, count = 2, 10
        if len(options) % 2:
            raise ReplyError("ERR syntax error")
        for name, value in zip(options[::2], options[1::2], strict=True):
            if not value.isdigit():
                raise ReplyError("ERR value is not an integer or out of range")
            if name.upper() == b"DISTANCE":
                limit = int(value)
            elif name.upper() == b"COUNT":
                count = int(value)
            else:
                raise ReplyError("ERR syntax error")
        word = word.lower()
        scored = []
        for known, frequency in self.counts.items():
            distance = edit_distance(word, known, limit)
            if distance <= limit:
                scored.append((distance, -frequency, known))
        scored.sort()
        return [known for _distance, _frequency, known in scored[:count]]

    def dump(self) -> bytes:
        """Return the words and their counts, length-prefixed."""
        return pack(item for word, count in self.counts.items() for item in (word, b"%d" % count))

    @classmethod
    def load(cls, data: bytes) -> Suggest:
        """Rebuild the vocabulary from :meth:`dump`'s bytes."""
        items = unpack(data)
        suggest = cls()
        suggest.counts = {word: int(count) for word, count in zip(items[::2], items[1::2], strict=True)}
        return suggest


if __name__ == "__main__":
    import redpocket

    client = redpocket.connect(structures=[Suggest])
    client.execute_command("SUGGESTADD", "words", "python", "pythons", "typhoon", "redis")
    print(client.execute_command("SUGGEST", "words", "pyhton"))  # [b'python', b'pythons']
