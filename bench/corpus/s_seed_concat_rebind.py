"""Lost update: ``global df; df = pd.concat([df, row])`` from several threads.

The seed notebook's first cells (shared/seed/threading_notebook.txt, In[2] to
In[6]) append rows to a global DataFrame from ten threads, and then from a
``ThreadPoolExecutor``, by rebinding the global to a new concatenation after a
``sleep``.  Each rebinding reads the old frame and publishes a new one, so two
threads that both read the same frame drop a row; the notebook's ten rows were
luck.  Re-expressed without pandas: a tuple is rebuilt the way ``concat``
rebuilds the frame.  The fix appends under a lock (collecting rows in a list
and concatenating once at the end works too).
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from ._scenario import Body, Scenario, Side, check

CITATION = "seed notebook shared/seed/threading_notebook.txt In[2]-In[6] (global df = pd.concat([df, rand_df]))"


def setup() -> SimpleNamespace:
    return SimpleNamespace(df=(), lock=threading.Lock())


def _add_row(row: tuple[int, int, int]) -> Body:
    def random_func(s: SimpleNamespace) -> None:
        time.sleep(0.01)
        s.df = (*s.df, row)  # df = pd.concat([df, rand_df], ignore_index=True)

    return random_func


def _add_row_locked(row: tuple[int, int, int]) -> Body:
    def random_func_locked(s: SimpleNamespace) -> None:
        time.sleep(0.01)
        with s.lock:
            s.df = (*s.df, row)

    return random_func_locked


ROWS = ((0, 1, 0), (4, 3, 0), (6, 1, 1))


def invariant(s: SimpleNamespace) -> None:
    check(sorted(s.df) == sorted(ROWS), f"frame has {len(s.df)} of {len(ROWS)} rows: {s.df}")


SCENARIO = Scenario(
    name="s_seed_concat_rebind",
    category="lost update",
    citation=CITATION,
    summary="seed: three threads rebind a global frame to concat(frame, row); rows vanish",
    racy=Side(setup, [_add_row(r) for r in ROWS], invariant),
    fixed=Side(setup, [_add_row_locked(r) for r in ROWS], invariant),
    expect="violation",
)
