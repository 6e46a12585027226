"""A renderer written outside racecheck, from the trace's public data only.

One column per thread, one numbered line per read or write; a preemption is
marked ``>``, a write that lost another thread's update ``!`` with the line
of the write it lost.  It reads ``Trace.steps`` (``tid``, ``thread``,
``lineno``, ``kind``, ``target``, ``value``, ``preempted``) and
``Trace.lost_update_steps``, never the report's English.  Lines follow the
order in which threads reached their points (a store runs just after its
point, so a write can land after a later line of another thread).
"""

from __future__ import annotations

from racecheck.trace import Trace


def render(trace: Trace, width: int = 30) -> str:
    order = sorted({s.tid for s in trace.steps})
    names = {s.tid: s.thread for s in trace.steps}
    shown = [(i, s) for i, s in enumerate(trace.steps) if s.kind in ("read", "write")]
    line_of = {index: n for n, (index, _) in enumerate(shown, start=1)}
    lost = dict(trace.lost_update_steps)
    out = ["    " + " | ".join(names[t].ljust(width) for t in order)]
    for n, (index, step) in enumerate(shown, start=1):
        sign = "=" if step.kind == "write" else "->"
        cell = f"{step.lineno}: {step.target} {sign} {step.value}"
        mark = "!" if index in lost else ">" if step.preempted else " "
        if index in lost:
            cell += f" (loses {line_of.get(lost[index], '?')})"
        cells = [(mark + cell if t == step.tid else "").ljust(width) for t in order]
        out.append(f"{n:>3} " + " | ".join(cells).rstrip())
    return "\n".join(out)
