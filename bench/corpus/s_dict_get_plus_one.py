"""Lost update: ``counts[w] = counts.get(w, 0) + 1`` from several threads.

The Python FAQ names ``D[x] = D[x] + 1`` as an operation that is *not*
thread-safe even under the GIL: the read of the old count and the store of the
new one are separate steps.  Two threads counting words with a shared word
that both see lose one of the counts.  The fix holds a lock around each
read-modify-write.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ._scenario import Body, Scenario, Side, check

CITATION = (
    "https://docs.python.org/3/faq/library.html#what-kinds-of-global-value-mutation-are-thread-safe "
    "(D[x] = D[x] + 1 is listed as not thread-safe)"
)

CHUNKS = (("spam", "eggs"), ("spam", "ham"))


def setup() -> SimpleNamespace:
    return SimpleNamespace(counts={}, lock=threading.Lock())


def _count(words: tuple[str, ...]) -> Body:
    def count_words(s: SimpleNamespace) -> None:
        counts = s.counts
        for w in words:
            counts[w] = counts.get(w, 0) + 1

    return count_words


def _count_locked(words: tuple[str, ...]) -> Body:
    def count_words_locked(s: SimpleNamespace) -> None:
        counts = s.counts
        for w in words:
            with s.lock:
                counts[w] = counts.get(w, 0) + 1

    return count_words_locked


def invariant(s: SimpleNamespace) -> None:
    expected = {"spam": 2, "eggs": 1, "ham": 1}
    check(s.counts == expected, f"word counts {s.counts}, expected {expected}")


SCENARIO = Scenario(
    name="s_dict_get_plus_one",
    category="lost update",
    citation=CITATION,
    summary="word count `d[w] = d.get(w, 0) + 1` in two threads loses a count",
    racy=Side(setup, [_count(CHUNKS[0]), _count(CHUNKS[1])], invariant),
    fixed=Side(setup, [_count_locked(CHUNKS[0]), _count_locked(CHUNKS[1])], invariant),
    expect="violation",
)
