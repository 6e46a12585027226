"""Turn a failure into text a person can act on.

Layout: the verdict in one line; what failed (exception, invariant, wait-for
cycle); a legend of the threads' short labels; the interleaving, cut down to
the turns that explain the failure; named lost updates; the traceback; and
last, the one line that replays the schedule (Hypothesis'
``@reproduce_failure``, Shuttle's printed schedule).

Every line fits in ``WIDTH`` columns except the traceback's own lines and the
replay line, which must stay whole to be copied (issue 14).  The interleaving
of a real failure is hundreds of turns, most of them a thread looping on its
own or a pool worker inside ``queue.get``; it shows at most ``MAX_TURNS`` lines:
the lost update's writes and the reads they were computed from, the end of the
failing thread, the preemptions, the turns with a note, and one turn of context
around them.  Everything else folds into a line that says how much it hides.
"""

from __future__ import annotations

import bisect
import collections
import linecache
import os
import re
import sysconfig
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._core import raw
from ._core.outcome import Signal
from ._core.raw import OWN_DIRS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._core.outcome import Failure
    from ._core.runner import Config
    from ._core.trace import Step, Trace

#: The widest line of a report (the traceback and the replay line excepted).
WIDTH = 100
#: The most lines the interleaving takes (turns, their notes and the folded runs).
MAX_TURNS = 40
_STDLIB = sysconfig.get_paths()["stdlib"]
_MORE = "…"
PREEMPTED_LEGEND = "* = preempted: the thread got the baton from one that could have gone on"


def render(failure: Failure, cfg: Config) -> None:
    """Fill ``failure.replay_line`` and ``failure.report`` (``failure.trace`` is set)."""
    failure.replay_line = cfg_replay_line(cfg, failure.token)
    trace = failure.trace
    steps = trace.steps if trace is not None else []
    labels = _labels(steps, cfg.names)
    lines: list[str] = []
    whole: set[int] = set()  # indices of lines kept whole: a traceback inside the message
    where = f"schedule {failure.schedule_index + 1}"
    if failure.seed is not None:
        where += f", seed {failure.seed}"
    lines.append(f"racecheck found a {failure.kind.upper()} ({where})")
    for line, in_traceback in _message_lines(failure.message):
        if in_traceback:
            whole.add(len(lines))
        lines.append(line)
    if failure.shrink_runs:
        lines.append(f"  {shrink_sentence(failure, cfg.schedules)}")
    lines.extend(_legend(labels, cfg))
    if failure.cycle:
        lines.append("")
        lines.append("Wait-for cycle:")
        lines.extend(f"  {edge}" for edge in failure.cycle)
    if failure.blocked:
        lines.append("")
        lines.append("Blocked threads:")
        for entry in failure.blocked:
            lines.extend(f"  {part}" for part in str(entry).splitlines())
    if trace is not None and steps:
        lines.append("")
        failed = labels.get(failure.thread_name) if failure.thread_name else None
        lines.extend(_interleaving(trace, labels, failed))
    if trace is not None and trace.lost_updates:
        lines.append("")
        lines.extend(f"LOST UPDATE: {_relabel(text.removeprefix('lost update: '), labels)}"
                     for text in trace.lost_updates[:3])
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
    lines = [part for i, line in enumerate(lines)
             for part in ([line] if i in whole else _wrap(line))]
    if failure.traceback_text:
        lines.append("")
        lines.extend(_wrap(f"Exception{' in ' + failure.thread_name if failure.thread_name else ''}:"))
        # The traceback is Python's own text, kept whole: a reader matches it against
        # other tracebacks, and a path cut in two is no longer clickable.
        lines.extend("  " + ln for ln in trim_traceback(failure.traceback_text).splitlines())
    lines.append("")
    lines.append("Replay this exact schedule with:")
    lines.append(f"  {failure.replay_line}")  # whole, however long: it is copied as is
    failure.report = "\n".join(lines)


def _message_lines(message: str) -> list[tuple[str, bool]]:
    """The message's lines, each with whether it belongs to a traceback the message quotes
    (unittest's subtest failures do): those are kept whole, like the report's own."""
    out: list[tuple[str, bool]] = []
    quoting = False
    for line in f"  {message}".splitlines():
        quoting = quoting or line.lstrip().startswith("Traceback (most recent call last):")
        out.append((line, quoting))
        if quoting and line[:1].strip() and not line.startswith("Traceback"):
            quoting = False  # the exception's own line ends the traceback
    return out


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


# ------------------------------------------------------------------ text layout


def _wrap(line: str, width: int = WIDTH) -> list[str]:
    """``line`` as lines of at most ``width`` columns, continued four columns deeper."""
    if len(line) <= width:
        return [line]
    lead = line[:len(line) - len(line.lstrip())]
    return textwrap.wrap(line.strip(), width=width, initial_indent=lead,
                         subsequent_indent=lead + "    ", break_on_hyphens=False) or [line]


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, the cut marked with an ellipsis."""
    if len(text) <= width:
        return text
    return text[:max(width - 1, 0)].rstrip() + _MORE if width > 0 else ""


def _pack(head: str, items: Sequence[str], indent: str) -> list[str]:
    """``head`` and the comma-separated ``items``, never breaking an item across lines."""
    lines = [head]
    for i, item in enumerate(items):
        text = item + ("," if i < len(items) - 1 else "")
        if len(lines[-1]) + 1 + len(text) > WIDTH and lines[-1] != head:
            lines.append(indent + text)
        else:
            lines[-1] += " " + text
    return lines


# -------------------------------------------------------------------- threads


_SHORT_NAME = re.compile(r"T\d+|main")
_THREAD_NUMBER = re.compile(r"Thread-(\d+)\b")


def _labels(steps: Sequence[Step], names: Sequence[str]) -> dict[str, str]:
    """A short label for each thread: ``main``, ``T1``, ``T2``...

    A name that is already short (explore()'s ``T1``, check()'s ``main``) is its own
    label; ``Thread-3 (list_worker)`` is ``T3`` (the number a reader sees in the
    legend and in ``threading.current_thread()``); other names, such as
    ``ThreadPoolExecutor-0_1``, get the next free ``T<n>`` in the order of their names.
    """
    order = list(dict.fromkeys([*names, *(s.thread for s in steps)]))
    labels = {n: n for n in order if _SHORT_NAME.fullmatch(n)}
    taken = set(labels.values())
    rest = []
    for name in order:
        if name in labels:
            continue
        m = _THREAD_NUMBER.match(name)
        if m and f"T{m.group(1)}" not in taken:
            labels[name] = f"T{m.group(1)}"
            taken.add(labels[name])
        else:
            rest.append(name)
    n = 0
    for name in sorted(rest, key=_natural):
        n += 1
        while f"T{n}" in taken:
            n += 1
        labels[name] = f"T{n}"
        taken.add(labels[name])
    return labels


def _legend(labels: dict[str, str], cfg: Config) -> list[str]:
    """"threads: main = test_x, T1 = Thread-1 (worker), ..." for the labels the report uses."""
    bodies = dict(zip(cfg.names, cfg.threads, strict=False))
    items = []
    for name, label in sorted(labels.items(), key=lambda kv: _label_key(kv[1])):
        if name in bodies:
            items.append(f"{label} = {_callable_name(bodies[name])}")
        elif name != label:
            items.append(f"{label} = {name}")
    if len(items) < 2 and all(name in bodies for name in labels):
        return []  # one thread body and nothing else: the message already names it
    return _pack("  threads:", items, "    ")


def _natural(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]


def _label_key(label: str) -> tuple[int, int]:
    return (0, 0) if label == "main" else (1, int(label[1:])) if label[1:].isdigit() else (2, 0)


def _relabel(text: str, labels: dict[str, str]) -> str:
    """``text`` with each full thread name replaced by its label."""
    for name in sorted(labels, key=len, reverse=True):
        if name != labels[name]:
            text = re.sub(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", labels[name], text)
    return text


# --------------------------------------------------------------- interleaving


@dataclass
class _Turn:
    """Consecutive steps of one thread on one source line (or all inside libraries)."""

    tid: int
    label: str
    filename: str
    lineno: int
    internal: bool
    steps: list[int] = field(default_factory=list)
    accesses: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    preempted: bool = False


def _is_internal(filename: str, harness: tuple[str, ...]) -> bool:
    """Library or harness code: the stdlib, installed packages, pytest, racecheck itself."""
    return (filename.startswith(_STDLIB) or "site-packages" in filename
            or "dist-packages" in filename or filename.startswith("<frozen")
            or filename.startswith(OWN_DIRS) or bool(harness and filename.startswith(harness)))


def display_order(trace: Trace) -> list[int]:
    """Step indices in the order their instructions ran (``Trace.landed``).

    A step is the scheduling point before an instruction: ``processed += 1``'s
    store, where its thread lost the baton, ran after the other thread's whole
    increment.  Shown in place, the losing write would come before the write it
    lost; it is shown where it landed instead.
    """
    n = len(trace.steps)
    later: dict[int, list[int]] = {}
    moved: set[int] = set()
    for i, before in sorted(trace.landed):
        if 0 <= i < before and i < n:
            later.setdefault(min(before, n), []).append(i)
            moved.add(i)
    order: list[int] = []
    for i in range(n + 1):
        order.extend(later.get(i, ()))
        if i < n and i not in moved:
            order.append(i)
    return order


def _turns(trace: Trace, labels: dict[str, str]) -> tuple[list[_Turn], dict[int, int]]:
    """The trace as turns, and the turn of each step index."""
    steps = trace.steps
    harness = raw.harness_dirs()
    shown_anyway = {i for pair in trace.lost_update_steps for i in pair}
    turns: list[_Turn] = []
    turn_of: dict[int, int] = {}
    for i in display_order(trace):
        step = steps[i]
        internal = i not in shown_anyway and _is_internal(step.filename, harness)
        last = turns[-1] if turns else None
        if last is None or last.tid != step.tid or last.internal != internal or (
                not internal and (last.filename, last.lineno) != (step.filename, step.lineno)):
            last = _Turn(step.tid, labels.get(step.thread, step.thread), step.filename,
                         step.lineno, internal)
            turns.append(last)
        last.steps.append(i)
        turn_of[i] = len(turns) - 1
        last.preempted = last.preempted or step.preempted
        if step.access and step.access != "calls" and step.access not in last.accesses:
            last.accesses.append(step.access)
        for note in step.note.split("; ") if step.note else ():
            note = _relabel(note, labels)
            if note not in last.notes:
                last.notes.append(note)
    return turns, turn_of


#: Why a turn is shown, most important first: a shorter budget keeps the lower ranks.
_LOST_WRITE, _LOST_READ, _PREEMPTED, _NOTED, _SAME_TARGET, _CONTEXT, _FAR_CONTEXT = range(7)


def _ranks(trace: Trace, turns: list[_Turn], turn_of: dict[int, int],
           failed: str | None) -> dict[int, int]:
    """The turns worth showing, each with its rank (``_LOST_WRITE``...)."""
    steps = trace.steps
    ranks: dict[int, int] = {}

    def mark(t: int | None, rank: int) -> None:
        if t is not None and not turns[t].internal:
            ranks[t] = min(ranks.get(t, rank), rank)

    targets = set()
    for pair in trace.lost_update_steps[:3]:
        for w in pair:
            mark(turn_of.get(w), _LOST_WRITE)
            write = steps[w]
            targets.add(write.target)
            read = next((r for r in range(w - 1, -1, -1) if steps[r].tid == write.tid
                         and steps[r].kind == "read" and steps[r].target == write.target), None)
            if read is not None:
                mark(turn_of.get(read), _LOST_READ)
    user = [t for t, turn in enumerate(turns) if not turn.internal]
    if user:
        mark(user[-1], _LOST_WRITE)  # where the schedule ended
    if failed is not None:
        mark(next((t for t in reversed(user) if turns[t].label == failed), None), _LOST_WRITE)
    for t in user:
        turn = turns[t]
        if turn.preempted:
            mark(t, _PREEMPTED)
            mark(_neighbour(turns, t, -1, None), _NOTED)  # where the other thread was stopped
        if turn.notes:
            mark(t, _NOTED)
        if targets & {steps[i].target for i in turn.steps if steps[i].kind in ("read", "write")}:
            mark(t, _SAME_TARGET)
    for t, rank in sorted(ranks.items()):
        near = _CONTEXT if rank <= _PREEMPTED else _FAR_CONTEXT
        mark(_neighbour(turns, t, -1, turns[t].tid), near)
        mark(_neighbour(turns, t, 1, turns[t].tid), near)
    return ranks


def _neighbour(turns: list[_Turn], t: int, direction: int, tid: int | None) -> int | None:
    """The nearest user turn before (-1) or after (1) turn ``t``, of thread ``tid`` if given."""
    i = t + direction
    while 0 <= i < len(turns):
        if not turns[i].internal and (tid is None or turns[i].tid == tid):
            return i
        i += direction
    return None


class _Selection:
    """The turns shown, kept sorted, and how many lines they take with the folds between."""

    def __init__(self, turns: list[_Turn], note_lines: list[int]) -> None:
        self.turns = turns
        self.note_lines = note_lines
        self.shown: list[int] = []
        self.lines = 1 if turns else 0  # everything folded into one line

    def _gap(self, lo: int, hi: int) -> int:
        """Lines for the turns strictly between ``lo`` and ``hi``: one, when there are any."""
        return 1 if hi - lo > 1 else 0

    def cost(self, t: int) -> int:
        at = bisect.bisect_left(self.shown, t)
        lo = self.shown[at - 1] if at > 0 else -1
        hi = self.shown[at] if at < len(self.shown) else len(self.turns)
        return (self._gap(lo, t) + self._gap(t, hi) + 1 + self.note_lines[t]
                - self._gap(lo, hi))

    def add(self, t: int) -> None:
        self.lines += self.cost(t)
        bisect.insort(self.shown, t)


def _select(turns: list[_Turn], ranks: dict[int, int], note_lines: list[int]) -> list[int]:
    """The turns to show: by rank, the later first within a rank, while MAX_TURNS lines last."""
    chosen = _Selection(turns, note_lines)
    for t in sorted(ranks, key=lambda t: (ranks[t], -t)):
        if chosen.lines + chosen.cost(t) <= MAX_TURNS:
            chosen.add(t)
    picked = set(chosen.shown)
    # A fold of a single plain turn takes a line either way: show the turn itself.
    singles = {t for t in range(len(turns))
               if t not in picked and not turns[t].internal and not turns[t].notes
               and (t == 0 or t - 1 in picked) and (t == len(turns) - 1 or t + 1 in picked)}
    return sorted(picked | singles)


def _interleaving(trace: Trace, labels: dict[str, str], failed: str | None) -> list[str]:
    """The header, the legend of the marks, and at most MAX_TURNS lines of turns and folds."""
    turns, turn_of = _turns(trace, labels)
    if not turns:
        return []
    width = max(len(t.label) for t in turns)
    note_lines = [sum(len(_note_lines(n, width)) for n in t.notes) for t in turns]
    shown = _select(turns, _ranks(trace, turns, turn_of, failed), note_lines)
    # The file most shown lines are in goes in the header, its lines by number alone:
    # "test_dataframe_append.py:54" on every line would take a quarter of the width.
    files = collections.Counter(turns[t].filename for t in shown)
    home = files.most_common(1)[0][0] if files else ""
    names = _locations(list(files))
    locs = {t: str(turns[t].lineno) if turns[t].filename == home
            else _clip_left(f"{names[turns[t].filename]}:{turns[t].lineno}", 24) for t in shown}
    loc_width = max(len(loc) for loc in locs.values())
    room = WIDTH - (2 + 1 + 1 + width + 2 + loc_width + 2)
    sources = {t: _source(turns[t]) for t in shown}
    src_width = _split([(len(sources[t]), len("; ".join(turns[t].accesses)))
                        for t in shown if turns[t].accesses], room)

    body: list[str] = []
    marked = False
    at = 0
    for t in [*shown, len(turns)]:
        if t > at:
            fold = turns[at:t]
            marked = marked or any(f.preempted for f in fold)
            body.append(_fold_line(fold, width, home))
        if t == len(turns):
            break
        turn = turns[t]
        marked = marked or turn.preempted
        head = (f"  {'*' if turn.preempted else ' '} {turn.label:<{width}}  "
                f"{locs[t]:>{loc_width}}  ")
        access = "; ".join(turn.accesses)
        if access:
            line = (f"{head}{_clip(sources[t], src_width):<{src_width}}  "
                    f"{_clip(access, room - src_width - 2)}")
        else:
            line = head + _clip(sources[t], room)
        body.append(line.rstrip())
        for note in turn.notes:
            body.extend(_note_lines(note, width))
        at = t + 1
    folded = len(turns) - len(shown)
    head = f"Interleaving ({_count(len(turns), 'turn')}, oldest first"
    if folded:
        head += f"; {len(shown)} shown, {folded} folded"
    legend = [f"  {PREEMPTED_LEGEND}"] if marked else []
    if home and len(head) + len(names[home]) + 13 <= WIDTH:
        head += f"; lines of {names[home]}"
    elif home:
        legend.insert(0, _clip(f"  line numbers without a file name are {names[home]}'s", WIDTH))
    return [head + "):", *legend, *body]


def _split(lines: Sequence[tuple[int, int]], room: int) -> int:
    """How much of ``room`` the source column takes, given each line's (source, accesses)
    lengths: the width that cuts least, a cut access counting double (it carries the
    values read and written; the source is in the file)."""
    if not lines:
        return 0
    longest = max(src for src, _ in lines)
    best, best_cut = 0, -1
    for width in range(min(longest, room - 12), min(12, longest) - 1, -1):
        cut = sum(max(src - width, 0) + 2 * max(acc - (room - width - 2), 0)
                  for src, acc in lines)
        if best_cut < 0 or cut < best_cut:
            best, best_cut = width, cut
    return best


def _note_lines(note: str, width: int) -> list[str]:
    """A turn's note under it, wrapped to WIDTH, at most two lines."""
    indent = " " * (2 + 1 + 1 + width + 2)
    lines = textwrap.wrap(f"^^^ {note}", width=WIDTH, initial_indent=indent,
                          subsequent_indent=indent + "    ", break_on_hyphens=False)
    if len(lines) > 2:
        lines = [lines[0], _clip(lines[1] + " " + lines[2].strip(), WIDTH)]
    return lines


def _fold_line(fold: Sequence[_Turn], width: int, home: str) -> str:
    """"...  23 turns of T1, T2 (lines 30-41, helpers.py:7, library code)"."""
    threads = sorted({t.label for t in fold}, key=_label_key)
    places: dict[str, list[int]] = {}
    for turn in fold:
        if turn.internal:
            places.setdefault("library code", [])
        elif turn.filename == home:
            places.setdefault("line", []).append(turn.lineno)
        else:
            places.setdefault(os.path.basename(turn.filename) + ":", []).append(turn.lineno)
    where = []
    for name, numbers in places.items():
        if not numbers:
            where.append(name)
        elif min(numbers) == max(numbers):
            where.append(f"{name}{' ' if name == 'line' else ''}{numbers[0]}")
        else:
            span = f"{min(numbers)}-{max(numbers)}"
            where.append(f"lines {span}" if name == "line" else f"{name}{span}")
    mark = "*" if any(t.preempted for t in fold) else " "
    text = (f"  {mark} {'...':<{width}}  {_count(len(fold), 'turn')} of {', '.join(threads)} "
            f"({', '.join(where)})")
    return _clip(text, WIDTH)


def _locations(files: Sequence[str]) -> dict[str, str]:
    """How each file is named: its base name, unless two files share it."""
    bases = [os.path.basename(f) for f in files]
    return {f: os.path.basename(f) if bases.count(os.path.basename(f)) == 1 else _short(f)
            for f in files}


def _clip_left(text: str, width: int) -> str:
    return text if len(text) <= width else _MORE + text[len(text) - width + 1:]


def _source(turn: _Turn) -> str:
    """The turn's source line, without a trailing comment (the accesses say what it did)."""
    text = linecache.getline(turn.filename, turn.lineno).strip()
    code, sep, _ = text.partition("  #")
    return code.rstrip() if sep and code.strip() else text


def _short(path: str) -> str:
    if path.startswith(_STDLIB):
        return os.path.basename(path)
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return os.path.basename(path) if rel.startswith("..") else rel


def trim_traceback(text: str) -> str:
    """Drop racecheck's own frames from a formatted traceback."""
    out: list[str] = []
    skip = False
    for line in text.splitlines():
        if line.startswith('  File "'):
            skip = any(d in line for d in OWN_DIRS)
        if not skip:
            out.append(line)
    return "\n".join(out)
