"""Turn a failure into text a person can act on.

Layout: the verdict in one line; what failed (exception, invariant, wait-for
cycle); the interleaving as the last steps, one line per thread turn with
file:line, the source and the values read and written; named lost updates;
the traceback; and last, the one line that replays the schedule (Hypothesis'
``@reproduce_failure``, Shuttle's printed schedule).
"""

from __future__ import annotations

import linecache
import os
import sysconfig
from typing import TYPE_CHECKING

from ._core.outcome import Signal
from ._core.raw import OWN_DIRS

if TYPE_CHECKING:
    from ._core.outcome import Failure
    from ._core.runner import Config
    from ._core.trace import Step

MAX_TURNS = 40
_STDLIB = sysconfig.get_paths()["stdlib"]


def render(failure: Failure, cfg: Config) -> None:
    """Fill ``failure.replay_line`` and ``failure.report`` (``failure.trace`` is set)."""
    failure.replay_line = cfg_replay_line(cfg, failure.token)
    lines: list[str] = []
    where = f"schedule {failure.schedule_index + 1}"
    if failure.seed is not None:
        where += f", seed {failure.seed}"
    lines.append(f"racecheck found a {failure.kind.upper()} ({where})")
    lines.append(f"  {failure.message}")
    if failure.shrink_runs:
        lines.append(f"  {shrink_sentence(failure, cfg.schedules)}")
    if cfg.names and len(cfg.names) > 1:
        lines.append("  threads: " + ", ".join(
            f"{n} = {_callable_name(t)}" for n, t in zip(cfg.names, cfg.threads, strict=False)))
    if failure.cycle:
        lines.append("")
        lines.append("Wait-for cycle:")
        lines.extend(f"  {edge}" for edge in failure.cycle)
    if failure.blocked:
        lines.append("")
        lines.append("Blocked threads:")
        for entry in failure.blocked:
            lines.extend(f"  {part}" for part in str(entry).splitlines())
    if failure.trace is not None and failure.trace.steps:
        lines.append("")
        lines.extend(_interleaving(failure.trace.steps))
    if failure.trace is not None and failure.trace.lost_updates:
        lines.append("")
        lines.extend(f"LOST UPDATE: {text.removeprefix('lost update: ')}" for text in failure.trace.lost_updates[:3])
    if failure.notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in failure.notes)
    if failure.replayed != failure.kind:
        lines.append("")
        said = f" ({failure.replay_message})" if failure.replayed == Signal.DIVERGED else ""
        lines.append(
            f"warning: replaying this schedule gave {failure.replayed or 'a pass'} instead of "
            f"{failure.kind}{said}; this report shows the exploration's run without its "
            "interleaving. The code depends on something racecheck does not control (real "
            "time, real I/O, unseeded randomness, state kept between schedules): "
            "check_determinism=True says where the runs part"
        )
    if failure.traceback_text:
        lines.append("")
        lines.append(f"Exception{' in ' + failure.thread_name if failure.thread_name else ''}:")
        lines.extend("  " + ln for ln in _trim_traceback(failure.traceback_text).splitlines())
    lines.append("")
    lines.append("Replay this exact schedule with:")
    lines.append(f"  {failure.replay_line}")
    failure.report = "\n".join(lines)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def shrink_sentence(failure: Failure, schedules: int) -> str:
    """"found at schedule 3 of 200 with 41 preemptions, shrunk to 1 (12 runs)"."""
    found = (f"found at schedule {failure.schedule_index + 1} of {schedules} with "
             f"{_count(failure.found_preemptions, 'preemption')}")
    if failure.preemptions < failure.found_preemptions:
        return f"{found}, shrunk to {failure.preemptions} ({_count(failure.shrink_runs, 'run')})"
    return f"{found}; no simpler schedule fails the same way ({_count(failure.shrink_runs, 'run')})"


def cfg_replay_line(cfg: Config, token: str) -> str:
    hint = cfg.replay_hint or (
        'racecheck.replay("{token}", threads, setup=setup, invariant=invariant)'
    )
    return hint.replace("{token}", token)


def _callable_name(fn: object) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return str(name)


def _interleaving(steps: list[Step]) -> list[str]:
    """One line per turn (consecutive steps of one thread on one line are merged).

    Turns that read or write something nameable are shown; runs of other turns
    (typically threads alternating inside a library call) fold into one line.
    """
    turns: list[tuple[Step, list[str], list[str]]] = []
    for step in steps:
        if step.filename.startswith(OWN_DIRS):
            continue
        last = turns[-1] if turns else None
        if last is not None and last[0].tid == step.tid and (
                (last[0].filename, last[0].lineno) == (step.filename, step.lineno)):
            if step.access and step.access not in last[1]:
                last[1].append(step.access)
            if step.note:
                last[2].append(step.note)
        else:
            turns.append((step, [step.access] if step.access else [],
                          [step.note] if step.note else []))
    items: list[tuple[Step, list[str], list[str]] | list[tuple[Step, list[str], list[str]]]] = []
    for turn in turns:
        boring = not any(a not in ("calls",) for a in turn[1]) and not turn[2]
        if boring and items and isinstance(items[-1], list):
            items[-1].append(turn)
        elif boring:
            items.append([turn])
        else:
            items.append(turn)
    rendered: list[str] = []
    width = max((len(t[0].thread) for t in turns[-200:]), default=2)
    for item in items:
        if isinstance(item, list) and len(item) > 2:
            names = sorted({t[0].thread for t in item})
            places = sorted({f"{_short(t[0].filename)}:{t[0].lineno}" for t in item})
            rendered.append(f"  {'...':<{width}}  {len(item)} turns of {', '.join(names)} "
                            f"at {', '.join(places[:3])}{' ...' if len(places) > 3 else ''}")
            continue
        for step, accesses, notes in item if isinstance(item, list) else [item]:
            loc = f"{_short(step.filename)}:{step.lineno}"
            src = linecache.getline(step.filename, step.lineno).strip()
            text = f"  {step.thread:<{width}}  {loc:<22} {src[:56]:<56}"
            detail = "; ".join(a for a in accesses if a != "calls")
            if detail:
                text += f"  {detail}"
            rendered.append(text.rstrip())
            rendered.extend(f"  {'':<{width}}  {'':<22} ^^^ {note}" for note in notes)
    shown = rendered[-MAX_TURNS:]
    head = f"Interleaving ({len(turns)} turns; "
    head += "the last shown, oldest first):" if len(rendered) > MAX_TURNS else "oldest first):"
    return [head, *shown]


def _short(path: str) -> str:
    if path.startswith(_STDLIB):
        return os.path.basename(path)
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return os.path.basename(path) if rel.startswith("..") else rel


def _trim_traceback(text: str) -> str:
    """Drop racecheck's own frames from a formatted traceback."""
    out: list[str] = []
    skip = False
    for line in text.splitlines():
        if line.startswith('  File "'):
            skip = any(d in line for d in OWN_DIRS)
        if not skip:
            out.append(line)
    return "\n".join(out)
