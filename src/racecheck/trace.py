"""A failure's evidence as data: the recorded interleaving and the wait-for graph.

``Failure.trace`` is a :class:`Trace` (its steps, lost updates as step
indices, lock events), ``Failure.cycle`` a list of :class:`WaitEdge` and
``Failure.blocked`` a list of :class:`Blocked`; ``Failure.kind`` is a
:class:`racecheck.Verdict`.  A renderer, a shrinker or a CI tool reads these
fields, never the report's English (``str()`` of each is that English).
"""

from ._core.trace import Step, SyncEvent, Trace
from ._core.waitfor import Blocked, WaitEdge

__all__ = ["Blocked", "Step", "SyncEvent", "Trace", "WaitEdge"]
