"""The HTML report: self-contained pages drawn from the plain data of ``_data``.

Three pages, each one file with its CSS and a few lines of JS inline (no
network, no fonts, no framework; everything but the copy buttons works with
JS off):

* the failure page (``Failure.to_html``, from ``failure_data``): the verdict
  and message, the replay line with a copy button, the lost updates, a
  deadlock's wait-for cycle drawn as SVG, the exception and its traceback, and
  the interleaving as swimlanes: one column per thread, time going down, each
  turn with file:line, the source line and the values read and written.
  Preempted turns are marked, the two writes of a lost update are highlighted
  and linked to each other, and runs of uninteresting steps fold into
  ``<details>`` rows;
* the result page (``Result.to_html``, from ``result_data``): the evidence of
  a pass (exhaustive up to k preemptions, or so many sampled schedules) and a
  strip of the schedules run, or the failure as above;
* the run page (``pytest --racecheck-html``, from the JSON report's dict):
  totals and the seed's replay command, one table row per explored test, one
  failure section per failing test, and the tests not explored with why.

Every piece of text that comes from the user's program goes through ``_e``.
"""

from __future__ import annotations

import math
import os
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from ._core.raw import OWN_DIRS
from ._report import trim_traceback

#: Turns that contain one of the trace's last steps are never folded: the end
#: of a schedule is where its failure shows.
KEEP_LAST_STEPS = 20
#: A run of fewer uninteresting turns than this is shown, not folded.
MIN_FOLD = 3
#: The result page lists at most this many schedules (the strip shows them all).
MAX_RUN_ROWS = 500

_LIBRARY_DIRS = tuple(dict.fromkeys(
    p for p in (sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib")) if p))


def write_failure_page(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """One failing schedule (``failure_data``) as a page."""
    body = _failure_section(data, prefix="", level=1)
    _write(path, _page(f"racecheck: {data['verdict']}", body))


def write_result_page(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """One exploration (``result_data``): the failure drawn, or the evidence of a pass."""
    parts = [_result_header(data)]
    if data.get("failure"):
        parts.append(_failure_section(data["failure"], prefix="", level=2))
    parts.append(_runs_section(data.get("runs") or []))
    parts.extend(_notes(data.get("notes") or []))
    _write(path, _page(f"racecheck: {data['verdict']}", "\n".join(parts)))


def write_run_page(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """A pytest run (the JSON report's dict): totals, one row per test, the failures."""
    tests: list[dict[str, Any]] = list(report.get("tests") or [])
    parts = [_run_header(report, tests), _tests_table(tests)]
    for n, record in enumerate(tests):
        if not record.get("ok"):
            parts.append(_test_failure(record, f"t{n}-"))
    parts.append(_not_explored_section(report.get("not_explored") or []))
    _write(path, _page("racecheck: pytest run", "\n".join(parts)))


# ------------------------------------------------------------------ helpers


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _write(path: str | os.PathLike[str], page: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")


def _is_library(path: str) -> bool:
    """Code the user did not write: the standard library, installed packages, racecheck."""
    return (path.startswith(_LIBRARY_DIRS) or path.startswith(OWN_DIRS)
            or "/site-packages/" in path or "/dist-packages/" in path)


def _short(path: str) -> str:
    """A file as the lanes show it: libraries by basename, the user's files relative to
    the working directory when inside it, else by basename (the full path is the
    tooltip), as the terminal report does."""
    if _is_library(path):
        return os.path.basename(path)
    if not os.path.isabs(path):
        return path
    rel = os.path.relpath(path)
    return os.path.basename(path) if rel.startswith("..") else rel


def _copyable(text: str, ident: str) -> str:
    """A line of code with a copy button (shown only when JS runs)."""
    return (f'<div class="copyline"><code id="{_e(ident)}">{_e(text)}</code>'
            f'<button type="button" class="copy" data-copy="{_e(ident)}">Copy</button></div>')


def _notes(notes: Iterable[str]) -> list[str]:
    return [f'<p class="note-line">note: {_e(n)}</p>' for n in notes]


def _seconds(value: object) -> str:
    if not isinstance(value, (int, float)):
        return ""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


# ------------------------------------------------------------- failure part


def _failure_section(data: dict[str, Any], prefix: str, level: int, title: str | None = None,
                     extra: str = "", expected: bool = False) -> str:
    """Everything about one failing schedule; ``prefix`` keeps step anchors unique,
    ``expected`` greys the verdict of an xfail test's failure."""
    verdict = str(data.get("verdict", ""))
    heading = title or f"racecheck found a {verdict.upper()}"
    where = f"schedule {int(data.get('schedule_index') or 0) + 1}"
    if data.get("seed") is not None:
        where += f", seed {data['seed']}"
    where += f", {_plural(int(data.get('preemptions') or 0), 'preemption')}"
    parts = [
        f'<section class="failure{" sub" if level > 1 else ""}" id="{_e(prefix)}failure">',
        f'<h{level}><span class="verdict v-{"expected" if expected else _e(verdict)}">'
        f'{_e(verdict)}</span> '
        f'{_e(heading)}</h{level}>',
        f'<p class="message">{_e(data.get("message"))}</p>',
        f'<p class="meta">{_e(where)}{_e(_shrink_sentence(data))}</p>',
        extra,
        '<h3>Replay this exact schedule</h3>',
        _copyable(str(data.get("replay_line") or data.get("token") or ""), f"{prefix}replay"),
    ]
    if "replayed" in data and data["replayed"] != verdict:  # None: the replay passed
        parts.append(f'<p class="warning">Replaying this schedule gave '
                     f'{_e(data["replayed"] or "a pass")} instead of {_e(verdict)}: the code '
                     "depends on something racecheck does not control (real time, real I/O, "
                     "unseeded randomness, state kept between schedules); the interleaving "
                     "below is not the failing run's.</p>")
    if data.get("unseen"):
        parts.append('<p class="warning">This verdict rests on a wait racecheck cannot see '
                     'into (a call blocked in C, real I/O): it may be racecheck\'s blind '
                     'spot rather than a bug.</p>')
    parts.append(_lost_updates_box(data, prefix))
    parts.append(_cycle_box(data, prefix))
    parts.append(_lanes(data, prefix))
    parts.append(_exception_box(data))
    parts.extend(_notes(data.get("notes") or []))
    if data.get("report"):
        parts.append(f'<details class="terminal"><summary>The terminal report</summary>'
                     f'<pre>{_e(data["report"])}</pre></details>')
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _shrink_sentence(data: dict[str, Any]) -> str:
    runs = int(data.get("shrink_runs") or 0)
    if not runs:
        return ""
    found = (f"; found at schedule {int(data.get('schedule_index') or 0) + 1} with "
             f"{_plural(int(data.get('found_preemptions') or 0), 'preemption')}")
    now = int(data.get("preemptions") or 0)
    if now < int(data.get("found_preemptions") or 0):
        return f"{found}, shrunk to {now} ({_plural(runs, 'run')})"
    return f"{found}; no simpler schedule fails the same way ({_plural(runs, 'run')})"


def _step_label(data: dict[str, Any], index: int) -> str:
    for s in data.get("steps") or []:  # in the order they ran: look the index up
        if int(s["index"]) == index:
            return f"{s['thread']}, {_short(str(s['file']))}:{s['line']}"
    return ""


def _lost_updates_box(data: dict[str, Any], prefix: str) -> str:
    lost = data.get("lost_updates") or []
    if not lost:
        return ""
    items = []
    for item in lost:
        w, old = int(item["write"]), int(item["lost"])
        items.append(
            f'<li>{_e(str(item["text"]).removeprefix("lost update: "))}<br>'
            f'<a href="#{prefix}step-{w}">step {w}</a> ({_e(_step_label(data, w))}) '
            f'overwrote <a href="#{prefix}step-{old}">step {old}</a> '
            f'({_e(_step_label(data, old))})</li>')
    return (f'<div class="box lost"><h3>{_plural(len(lost), "lost update")}</h3>'
            f'<ul>{"".join(items)}</ul></div>')


def _exception_box(data: dict[str, Any]) -> str:
    exc = data.get("exception")
    trace = trim_traceback(str(data.get("traceback") or "")).strip()
    if not exc and not trace:
        return ""
    head = ""
    if exc:
        where = f" in thread {data['thread']}" if data.get("thread") else ""
        head = (f'<p class="exc"><b>{_e(exc.get("type"))}</b>{_e(where)}: '
                f'{_e(exc.get("message"))}</p>')
    pre = f"<pre>{_e(trace)}</pre>" if trace else ""
    return f'<div class="box exception"><h3>Exception</h3>{head}{pre}</div>'


# --------------------------------------------------------------- deadlock


def _cycle_box(data: dict[str, Any], prefix: str) -> str:
    cycle = data.get("cycle") or []
    blocked = data.get("blocked") or []
    if not cycle and not blocked:
        return ""
    parts = ['<div class="box cycle">']
    if cycle:
        parts.append('<h3>Wait-for cycle</h3><div class="cycle-row">')
        parts.append(_cycle_svg(cycle, prefix))
        parts.append("<ul>" + "".join(f"<li>{_e(_edge_text(e))}</li>" for e in cycle)
                     + "</ul></div>")
    if blocked:
        rows = []
        for b in blocked:
            stack = "\n".join(str(s) for s in b.get("stack") or [])
            rows.append(
                f"<tr><td>{_e(b.get('thread'))}</td><td>{_e(b.get('resource'))}</td>"
                f"<td>{_e(', '.join(b.get('holders') or []))}</td>"
                f"<td>{_e(', '.join(b.get('holds') or []))}</td>"
                f"<td><details><summary>stack</summary><pre>{_e(stack)}</pre></details></td>"
                "</tr>")
        parts.append("<h3>Blocked threads</h3><table class=\"grid\"><tr><th>thread</th>"
                     "<th>waits for</th><th>held by</th><th>holds</th><th></th></tr>"
                     + "".join(rows) + "</table>")
    parts.append("</div>")
    return "".join(parts)


def _edge_text(edge: dict[str, Any]) -> str:
    if edge.get("timed_out"):
        return (f"{edge['waiter']} timed out waiting for {edge['resource']} while no other "
                "thread could run")
    held = f" held by {edge['holder']}" if edge.get("holder") else ""
    return f"{edge['waiter']} waits for {edge['resource']}{held}"


def _cycle_svg(cycle: Sequence[dict[str, Any]], prefix: str) -> str:
    """The wait-for graph: threads as ellipses on a circle, an arrow from each waiter to
    the holder of what it waits for, labelled with the resource.  Arrows bend outwards;
    between two threads (an ABBA deadlock) to either side, so they do not overlap."""
    nobody = "no thread"
    names = list(dict.fromkeys(str(name) for edge in cycle
                               for name in (edge["waiter"], edge.get("holder") or nobody)))
    n = len(names)
    char_w, rim_y = 7.6, 20.0  # a 12.5px monospace character's width; an ellipse's half-height
    rim_x = {name: max(30.0, len(_clip(name, 24)) * 4.2 + 14) for name in names}
    radius = max(130.0, max(rim_x.values()) + 60, 0 if n <= 2 else 115 / math.sin(math.pi / n))
    pos = {name: (radius * math.cos(math.pi + 2 * math.pi * i / n),
                  radius * math.sin(math.pi + 2 * math.pi * i / n))
           for i, name in enumerate(names)}

    def rim(name: str, ux: float, uy: float) -> float:
        """How far from its centre an arrow in direction (ux, uy) leaves a node."""
        return 1 / math.hypot(ux / rim_x[name], uy / rim_y)

    # The drawing's extent, grown by every node, curve and label drawn.
    xs = [x + side * rim_x[name] for name, (x, _) in pos.items() for side in (-1, 1)]
    ys = [y + side * rim_y for _, y in pos.values() for side in (-1, 1)]
    shapes: list[str] = []
    for edge in cycle:
        waiter, holder = str(edge["waiter"]), str(edge.get("holder") or nobody)
        (x1, y1), (x2, y2) = pos[waiter], pos[holder]
        dist = math.hypot(x2 - x1, y2 - y1) or 1.0
        ux, uy = (x2 - x1) / dist, (y2 - y1) / dist
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        out = math.hypot(mx, my)
        # The side to bend to: away from the centre, or left of travel on a diameter.
        nx, ny = (mx / out, my / out) if n > 2 and out > 1 else (uy, -ux)
        bend = (0.5 if n <= 2 else 0.3) * dist
        qx, qy = mx + nx * bend, my + ny * bend
        # Leave and enter the nodes towards the control point, as the curve does.
        d1, d2 = math.hypot(qx - x1, qy - y1), math.hypot(x2 - qx, y2 - qy)
        a1x, a1y, a2x, a2y = (qx - x1) / d1, (qy - y1) / d1, (x2 - qx) / d2, (y2 - qy) / d2
        sx, sy = x1 + a1x * rim(waiter, a1x, a1y), y1 + a1y * rim(waiter, a1x, a1y)
        ex, ey = x2 - a2x * rim(holder, a2x, a2y), y2 - a2y * rim(holder, a2x, a2y)
        # The label just outside the curve's midpoint, running away from the nodes.
        cx, cy = 0.25 * sx + 0.5 * qx + 0.25 * ex, 0.25 * sy + 0.5 * qy + 0.25 * ey
        verb = "timed out waiting for" if edge.get("timed_out") else "waits for"
        label = f"{verb} {edge['resource']}"
        lx, ly = cx + nx * 10, cy + ny * 10 + (10 if ny > 0.3 else -3 if ny < -0.3 else 4)
        anchor = "start" if nx > 0.15 else "end" if nx < -0.15 else "middle"
        width = len(label) * char_w
        left = lx if anchor == "start" else lx - width if anchor == "end" else lx - width / 2
        xs += [left, left + width]
        ys += [ly - 13, ly + 4, cy]
        dash = ' stroke-dasharray="6 4"' if edge.get("timed_out") else ""
        shapes.append(f'<path d="M{sx:.1f},{sy:.1f} Q{qx:.1f},{qy:.1f} {ex:.1f},{ey:.1f}" '
                      f'class="edge"{dash} marker-end="url(#{prefix}arrow)"/>'
                      f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">{_e(label)}</text>')
    for name, (x, y) in pos.items():
        dash = ' stroke-dasharray="5 4"' if name == nobody else ""
        shapes.append(f'<g class="node"><ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{rim_x[name]:.1f}" '
                      f'ry="{rim_y:.0f}"{dash}/><text x="{x:.1f}" y="{y + 4.5:.1f}" '
                      f'text-anchor="middle">{_e(_clip(name, 24))}</text>'
                      f"<title>{_e(name)}</title></g>")
    pad = 10.0
    left, top = min(xs) - pad, min(ys) - pad
    width, height = max(xs) + pad - left, max(ys) + pad - top
    return (f'<svg class="cycle-svg" role="img" aria-label="wait-for cycle" '
            f'viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" xmlns="http://www.w3.org/2000/svg">'
            f'<defs><marker id="{prefix}arrow" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
            'fill="#b91c1c"/></marker></defs>' + "".join(shapes) + "</svg>")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------- swimlanes


@dataclass
class _Turn:
    """Consecutive steps of one thread on one file:line: one row of the lanes."""

    tid: int
    steps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Marks:
    """What the lanes mark on a step, by step index."""

    prefix: str
    threads: dict[int, str]  # step -> its thread's name
    lost_of: dict[int, int]  # the write that lost an update -> the write it overwrote
    lost_by: dict[int, int]  # the overwritten write -> the write that overwrote it
    sync: dict[int, list[str]]  # "acquires Lock made at x.py:3", "releases ..."
    keep_from: int  # steps from here on are never folded

    @classmethod
    def of(cls, data: dict[str, Any], prefix: str) -> _Marks:
        lost = data.get("lost_updates") or []
        sync: dict[int, list[str]] = {}
        for event in data.get("sync_events") or []:
            if event["op"] != "block":  # a block is the step's note already
                verb = {"acquire": "acquires", "release": "releases"}.get(event["op"], event["op"])
                sync.setdefault(int(event["step"]), []).append(f"{verb} {event['resource']}")
        steps = data.get("steps") or []
        return cls(prefix, {int(s["index"]): str(s["thread"]) for s in steps},
                   {int(x["write"]): int(x["lost"]) for x in lost},
                   {int(x["lost"]): int(x["write"]) for x in lost},
                   sync, 1 + max((int(s["index"]) for s in steps), default=-1)
                   - KEEP_LAST_STEPS)  # by index: a long schedule's data leaves steps out

    def link(self, step: int) -> str:
        return (f'<a href="#{self.prefix}step-{step}">step {step}</a> '
                f"({_e(self.threads.get(step))})")


def _turns(steps: Sequence[dict[str, Any]]) -> list[_Turn]:
    turns: list[_Turn] = []
    for step in steps:
        last = turns[-1] if turns else None
        if last is not None and last.tid == step["tid"] and (
                (last.steps[0]["file"], last.steps[0]["line"]) == (step["file"], step["line"])):
            last.steps.append(step)
        else:
            turns.append(_Turn(int(step["tid"]), [step]))
    return turns


def _interesting(turn: _Turn, marks: _Marks) -> bool:
    """Shown even in a long trace: a turn that reads or writes something in the user's
    code, takes or lets go of a lock, is preempted, noted, part of a lost update, or
    near the end."""
    for s in turn.steps:
        i = int(s["index"])
        if (s["preempted"] or s["note"] or i >= marks.keep_from or i in marks.sync
                or i in marks.lost_of or i in marks.lost_by):
            return True
        if (s["access"] not in ("", "calls") and s["kind"] != "lib"
                and not _is_library(str(s["file"]))):
            return True
    return False


def _lanes(data: dict[str, Any], prefix: str) -> str:
    """The interleaving: a grid row per turn, a column per thread, time going down;
    runs of uninteresting turns fold into one ``<details>`` row."""
    steps = data.get("steps") or []
    if not steps:
        return ""
    threads = data.get("threads") or []
    column = {int(t["tid"]): i for i, t in enumerate(threads)}
    marks = _Marks.of(data, prefix)
    rows: list[str] = []
    pending: list[_Turn] = []

    def row(turn: _Turn, switch: bool) -> str:
        col = column.get(turn.tid, 0)
        cells = ['<div class="cell empty"></div>'] * len(threads)
        cells[col] = _cell(turn, col, marks)
        first, end = turn.steps[0]["index"], turn.steps[-1]["index"]
        label = f"{first}" if first == end else f"{first}&ndash;{end}"
        return (f'<div class="row{" switch" if switch else ""}"><div class="idx">{label}</div>'
                f'{"".join(cells)}</div>')

    def flush() -> None:
        if len(pending) >= MIN_FOLD:
            count = sum(len(t.steps) for t in pending)
            who = ", ".join(dict.fromkeys(str(t.steps[0]["thread"]) for t in pending))
            rows.append(f'<details class="fold"><summary>… {_plural(count, "step")} of '
                        f"{_e(who)} that touch none of your variables — show</summary>"
                        + "".join(row(t, False) for t in pending) + "</details>")
        else:
            rows.extend(row(t, False) for t in pending)
        pending.clear()

    previous = int(steps[0]["tid"])
    for turn in _turns(steps):
        if _interesting(turn, marks):
            flush()
            rows.append(row(turn, turn.tid != previous))
        else:
            pending.append(turn)
        previous = turn.tid
    flush()
    head = "".join(f'<div class="lane-head c{i % 10}" title="{_e(t["name"])}">{_e(t["name"])}'
                   "</div>" for i, t in enumerate(threads))
    left_out = int(data.get("steps_left_out") or 0)
    missing = (f'<p class="dim">{left_out:,} more steps of this schedule are not in the '
               "report: it keeps the first and the last ones, and the steps of its lost "
               "updates.</p>") if left_out else ""
    return (f'<h3>Interleaving <span class="dim">({_plural(len(steps), "step")}, oldest first; '
            "one column per thread)</span></h3>" + missing + _LEGEND
            + f'<div class="lanes" style="--lanes:{len(threads)}">'
            f'<div class="row head"><div class="idx">step</div>{head}</div>'
            + "".join(rows) + "</div>")


_LEGEND = (
    '<p class="legend"><span class="badge pre">preempted here</span> the scheduler switched '
    "to this thread while another could have gone on"
    '<span class="swatch lost-write"></span>a write that lost an update'
    '<span class="swatch lost-old"></span>the write it overwrote'
    '<span class="swatch note"></span>blocked or waited'
    '<span class="swatch sync"></span>took or let go of a lock'
    '<span class="swatch fold"></span>folded steps (click to show)</p>')


def _cell(turn: _Turn, col: int, marks: _Marks) -> str:
    """One turn: file:line, the source line, then per step what it read or wrote, the
    locks it took, its note, and the lost-update links; every step keeps an anchor."""
    first = turn.steps[0]
    path = str(first["file"])
    classes = [f"cell c{col % 10}"]
    if first["kind"] == "lib" or _is_library(path):
        classes.append("lib")
    badge = ""
    if any(s["preempted"] for s in turn.steps):
        classes.append("preempted")
        badge = '<span class="badge pre">preempted here</span>'
    lines: list[str] = []
    shown = ""
    for s in turn.steps:
        i = int(s["index"])
        anchor = f'<a class="anchor" id="{marks.prefix}step-{i}"></a>'
        access = str(s["access"])
        lost = i in marks.lost_of or i in marks.lost_by
        if lost or (access not in ("", "calls") and access != shown):
            kind = "w" if "write" in str(s["kind"]) else "r"
            lines.append(f'<div class="acc {kind}">{anchor}{_e(access)}</div>')
            shown = access
        else:
            lines.append(anchor)
        lines.extend(f'<div class="sync">{_e(text)}</div>' for text in marks.sync.get(i, []))
        if i in marks.lost_of:
            classes.append("lost-write")
            lines.append('<div class="link">⚠ lost update: overwrote the write of '
                         f"{marks.link(marks.lost_of[i])}</div>")
        if i in marks.lost_by:
            classes.append("lost-old")
            lines.append('<div class="link">this write is lost: overwritten by '
                         f"{marks.link(marks.lost_by[i])}</div>")
        if s["note"] and not str(s["note"]).startswith("lost update:"):
            lines.append(f'<div class="note">{_e(s["note"])}</div>')
    return (f'<div class="{" ".join(dict.fromkeys(classes))}"><div class="line">{badge}'
            f'<code class="src">{_e(first.get("source") or "")}</code>'
            f'<span class="loc" title="{_e(path)}">{_e(_short(path))}:{_e(first["line"])}</span>'
            "</div>" + "".join(lines) + "</div>")


# ----------------------------------------------------------- result page


def _evidence_box(evidence: dict[str, Any]) -> str:
    """How much a pass is worth: the claim in one line, then the terminal's sentence."""
    depth = evidence.get("exhaustive_up_to_preemptions")
    if depth is not None:
        claim = f"Exhaustive: every schedule with ≤ {_plural(int(depth), 'preemption')} was run"
    else:
        n = int(evidence.get("schedules") or 0)
        names = ", ".join(str(s["name"]) for s in evidence.get("strategies") or []) or "any"
        claim = f"{_plural(n, 'schedule')} sampled ({names}): not exhaustive"
    kind = "exhaustive" if depth is not None else "sampled"
    return (f'<div class="box evidence {kind}"><p class="claim">{_e(claim)}</p>'
            f'<p>{_e(evidence.get("text"))}</p></div>')


def _result_header(data: dict[str, Any]) -> str:
    verdict = str(data.get("verdict"))
    facts = (f"{_plural(int(data.get('schedules_run') or 0), 'schedule')} in "
             f"{_seconds(data.get('elapsed'))}, strategy {data.get('strategy')}, "
             f"seed {data.get('seed')}")
    head = (f'<header><h1><span class="verdict v-{_e(verdict)}">{_e(verdict)}</span> '
            f'racecheck exploration</h1><p class="meta">{_e(facts)}</p></header>')
    if data.get("failure"):
        return head
    return head + _evidence_box(data.get("evidence") or {})


def _failed(run: dict[str, Any]) -> bool:
    return run.get("verdict") not in (None, "pass")


def _runs_section(runs: Sequence[dict[str, Any]]) -> str:
    if not runs:
        return ""
    names = list(dict.fromkeys(str(r["strategy"]) for r in runs))
    strip = "".join(
        f'<span class="run s{names.index(str(r["strategy"])) % 6}'
        f'{" bad" if _failed(r) else ""}" title="schedule {int(r["index"]) + 1}: '
        f'{_e(r["strategy"])}, {int(r["steps"])} steps, {int(r["preemptions"])} preemptions, '
        f'{_e(r.get("verdict") or "pass")}"></span>' for r in runs)
    key = " ".join(f'<span class="run s{i % 6}"></span> {_e(n)}' for i, n in enumerate(names))
    rows = "".join(
        f"<tr><td>{int(r['index']) + 1}</td><td>{_e(r['strategy'])}</td>"
        f"<td>{int(r['steps'])}</td><td>{int(r['choices'])}</td>"
        f"<td>{int(r['preemptions'])}</td><td>{_e(r.get('verdict') or 'pass')}</td>"
        f"<td>{_seconds(r.get('seconds'))}</td></tr>" for r in runs[:MAX_RUN_ROWS])
    more = (f"<p class=\"dim\">… and {len(runs) - MAX_RUN_ROWS} more</p>"
            if len(runs) > MAX_RUN_ROWS else "")
    return (f'<section class="runs"><h2>{_plural(len(runs), "schedule")} run</h2>'
            f'<p class="legend">{key} <span class="run bad"></span> failed</p>'
            f'<div class="strip">{strip}</div>'
            '<details><summary>every schedule</summary><table class="grid"><tr><th>#</th>'
            "<th>strategy</th><th>steps</th><th>choices</th><th>preemptions</th>"
            f"<th>verdict</th><th>time</th></tr>{rows}</table>{more}</details></section>")


# -------------------------------------------------------------- run page


def _expected(record: dict[str, Any]) -> bool:
    return record.get("outcome") == "xfailed"


def _run_header(report: dict[str, Any], tests: Sequence[dict[str, Any]]) -> str:
    schedules = sum(int(t.get("schedules_run") or 0) for t in tests)
    failed = [t for t in tests if not t.get("ok")]
    expected = sum(1 for t in failed if _expected(t))
    unexpected = len(failed) - expected
    skipped = len(report.get("not_explored") or [])
    seed = report.get("seed")
    status = "fail" if unexpected else "pass"
    facts = [f"<b>{_plural(len(tests), 'test')}</b> explored",
             f"<b>{schedules}</b> schedules run",
             f"<b{' class=bad' if unexpected else ''}>{_plural(unexpected, 'failure')}</b>"]
    if expected:
        facts.append(f"<b>{expected}</b> expected (xfail)")
    if skipped:
        facts.append(f'<a href="#not-explored">{skipped} not explored</a>')
    facts.append(f"seed <b>{_e(seed)}</b>")
    replay = ("" if seed is None else "<p>Run the same schedules again:</p>"
              + _copyable(f"pytest --racecheck --racecheck-seed={seed}", "run-replay"))
    return (f'<header><h1><span class="verdict v-{status}">{status}</span> racecheck: pytest '
            f'run</h1><p class="meta">racecheck {_e(report.get("racecheck_version"))}</p>'
            f'<p class="totals">{" · ".join(facts)}</p>{replay}</header>')


def _verdict_cell(record: dict[str, Any]) -> str:
    verdict = str(record.get("verdict"))
    if record.get("ok"):
        return '<span class="verdict v-pass">pass</span>'
    if _expected(record):
        return (f'<span class="verdict v-expected">{_e(verdict)}</span> '
                '<span class="dim">expected</span>')
    return f'<span class="verdict v-{_e(verdict)}">{_e(verdict)}</span>'


def _tests_table(tests: Sequence[dict[str, Any]]) -> str:
    if not tests:
        return "<p>No test was explored.</p>"
    rows = []
    for n, t in enumerate(tests):
        name = _nodeid(str(t.get("nodeid")))
        if not t.get("ok"):
            name = f'<a href="#t{n}-failure">{name}</a>'
        detail = t.get("evidence") or ""
        if t.get("ok"):
            exhaustive = [e["exhaustive_up_to_preemptions"] for e in t.get("evidence_detail") or []
                          if e.get("exhaustive_up_to_preemptions") is not None]
            pill = (f'<span class="pill">exhaustive ≤ {int(max(exhaustive))} preemptions</span> '
                    if exhaustive else '<span class="pill weak">sampled</span> ')
            detail_html = pill + _e(detail)
        else:
            failure = t.get("failure") or {}
            detail_html = _e(failure.get("message") or detail)
        if t.get("note"):
            detail_html += f'<br><span class="dim">{_e(t["note"])}</span>'
        cls = "ok" if t.get("ok") else "expected" if _expected(t) else "bad"
        rows.append(
            f'<tr class="{cls}"><td class="nodeid">{name}</td><td>{_verdict_cell(t)}</td>'
            f'<td class="o-{_e(t.get("outcome"))}">{_e(t.get("outcome") or "")}</td>'
            f"<td>{_e(t.get('strategy'))}</td>"
            f'<td class="num">{int(t.get("schedules_run") or 0)}</td>'
            f'<td class="num">{_seconds(t.get("elapsed"))}</td><td>{detail_html}</td></tr>')
    return ('<section><h2>Tests explored</h2><table class="grid tests"><tr><th class="nodeid">test</th>'
            "<th>verdict</th><th>pytest</th><th>strategy</th><th>schedules</th><th>time</th>"
            f"<th>evidence / failure</th></tr>{''.join(rows)}</table></section>")


def _nodeid(nodeid: str) -> str:
    """The file part dimmed, so the test's own name stands out."""
    where, sep, name = nodeid.rpartition("::")
    return f'<span class="dim">{_e(where + sep)}</span>{_e(name)}' if sep else _e(nodeid)


def _test_failure(record: dict[str, Any], prefix: str) -> str:
    nodeid = str(record.get("nodeid"))
    rerun = _copyable(f'pytest --racecheck --racecheck-seed={record.get("run_seed")} "{nodeid}"',
                      f"{prefix}rerun")
    expected = ('<p class="expected-note">Expected failure: the test is marked xfail and '
                "pytest counts it as xfailed.</p>" if _expected(record) else "")
    extra = f"{expected}<h3>Re-run this exploration</h3>{rerun}"
    failure = record.get("failure")
    if not failure:  # an error (a racecheck limit, a usage error): only its text
        return (f'<section class="failure" id="{prefix}failure"><h2>'
                f'{_verdict_cell(record)} {_e(nodeid)}</h2>{extra}'
                f'<pre>{_e(record.get("report") or record.get("note") or "")}</pre></section>')
    return _failure_section(failure, prefix, level=2, title=nodeid, extra=extra,
                            expected=_expected(record))


def _not_explored_section(entries: Sequence[dict[str, Any]]) -> str:
    if not entries:
        return ""
    rows = []
    for entry in entries:
        detail = str(entry.get("detail") or "")
        after = entry.get("schedules_run")
        text = (f"after {_plural(int(after), 'schedule')}; " if after is not None else "") + detail
        rows.append(f"<tr><td class=\"nodeid\">{_e(entry.get('nodeid'))}</td>"
                    f"<td>{_e(entry.get('reason'))}</td><td>{_e(entry.get('outcome') or '')}</td>"
                    f"<td><span class=\"dim\">{_e(text.splitlines()[0] if text else '')}</span>"
                    "</td></tr>")
    return ('<section id="not-explored"><h2>Tests not explored</h2><table class="grid">'
            "<tr><th>test</th><th>why</th><th>pytest</th><th>detail</th></tr>"
            f"{''.join(rows)}</table></section>")


# ------------------------------------------------------------------ page

_CSS = """
:root{--fg:#1f2328;--dim:#656d76;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;
--red:#cf222e;--redbg:#ffebe9;--amber:#9a6700;--amberbg:#fff8c5;--green:#1a7f37;
--violet:#8250df;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1320px;padding:20px 28px 60px;color:var(--fg);background:var(--bg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:22px;margin:4px 0 6px}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:15px;margin:18px 0 6px}
a{color:#0969da}code,pre{font-family:var(--mono);font-size:12.5px}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:10px 12px;
overflow:auto;margin:6px 0}
.dim{color:var(--dim);font-weight:normal}.meta{color:var(--dim);margin:2px 0}
.message{font-size:15px;margin:4px 0;font-family:var(--mono);white-space:pre-wrap}
.verdict{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;
text-transform:uppercase;letter-spacing:.03em;vertical-align:3px;background:var(--red);color:#fff}
.v-pass{background:var(--green)}.v-expected{background:#6e7781}
.v-error,.v-hang{background:#bc4c00}
.box{border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:12px 0;
background:var(--soft)}.box h3{margin-top:2px}.box ul{margin:4px 0;padding-left:20px}
.box.lost{background:var(--redbg);border-color:#ffcecb}
.box.evidence.exhaustive{background:#dafbe1;border-color:#aceebb}
.box.evidence.sampled{background:#ddf4ff;border-color:#b6e3ff}.claim{font-size:16px;font-weight:600;margin:2px 0}
.warning{background:var(--amberbg);border:1px solid #eed888;padding:8px 12px;border-radius:6px}
.expected-note{color:#57606a;background:#eaeef2;padding:6px 10px;border-radius:6px}
.copyline{display:flex;gap:8px;align-items:center;margin:4px 0}
.copyline code{flex:1;background:#0d1117;color:#e6edf3;padding:8px 12px;border-radius:6px;
overflow-x:auto;white-space:pre}
.copy{display:none;font:inherit;padding:6px 14px;border:1px solid var(--line);border-radius:6px;
background:#fff;cursor:pointer;white-space:nowrap}.js .copy{display:inline-block}
.copy:hover{background:var(--soft)}
table.grid{border-collapse:collapse;width:100%;margin:6px 0;background:#fff}
.grid th,.grid td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
.grid th{background:var(--soft);font-weight:600}.num{text-align:right;white-space:nowrap}
.nodeid{font-family:var(--mono);font-size:12.5px;overflow-wrap:anywhere}
th.nodeid{width:28%;font:inherit;font-weight:600}.tests td:last-child{font-size:13px}
.tests .verdict{white-space:nowrap}.tests td:nth-child(n+2):nth-child(-n+6){white-space:nowrap}
tr.bad td:first-child{box-shadow:inset 3px 0 var(--red)}
tr.ok td:first-child{box-shadow:inset 3px 0 var(--green)}
tr.expected td:first-child{box-shadow:inset 3px 0 #8c959f}
.pill{display:inline-block;font-size:11.5px;padding:0 7px;border-radius:999px;background:#dafbe1;
color:var(--green);border:1px solid #aceebb}.pill.weak{background:var(--soft);color:var(--dim);
border-color:var(--line)}
.totals b.bad,.o-failed,.o-xpassed{color:var(--red);font-weight:600}
section.failure.sub{border-top:2px solid var(--line);margin-top:26px}
.legend{color:var(--dim);font-size:12.5px;margin:4px 0 8px}.legend .badge{margin-right:5px}
.badge{display:inline-block;font-size:11px;font-weight:600;padding:0 6px;border-radius:4px;
flex:none}.badge.pre{background:#fbefff;color:var(--violet);border:1px solid #d8b9ff}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:-2px;
margin:0 5px 0 14px;border:1px solid var(--line)}
.swatch.lost-write{background:var(--redbg);border-color:var(--red)}
.swatch.lost-old{background:var(--amberbg);border-color:#d4a72c}
.swatch.note{background:#ddf4ff;border-color:#54aeff}
.swatch.sync{background:#fff1e5;border-color:#fb8f44}
.swatch.fold{background:repeating-linear-gradient(135deg,#d0d7de 0 3px,#fff 3px 6px)}
/* No scroll box around the lanes, so their header sticks to the window's top; many
   lanes make the page itself scroll sideways. */
.lanes{--cols:4.2em repeat(var(--lanes),minmax(12.5rem,1fr));min-width:calc(4.2em + var(--lanes)*12.5rem);
border:1px solid var(--line);border-radius:8px;overflow:clip}
.row{display:grid;grid-template-columns:var(--cols);border-top:1px solid #eaeef2}
.row.switch{border-top:1px dashed #afb8c1}
.row.head{position:sticky;top:0;z-index:2;background:#fff;border-top:0;
border-bottom:1px solid var(--line)}
.idx{font-family:var(--mono);font-size:11.5px;color:var(--dim);padding:6px 6px;text-align:right;
background:var(--soft);border-right:1px solid var(--line)}
.lane-head{font-weight:600;padding:7px 10px;border-left:4px solid var(--c);overflow:hidden;
text-overflow:ellipsis;white-space:nowrap;background:color-mix(in srgb,var(--c) 10%,#fff)}
.cell{min-width:0;padding:4px 10px 5px;border-left:4px solid color-mix(in srgb,var(--c) 70%,#fff);
background:color-mix(in srgb,var(--c) 4%,#fff)}
.cell.empty{border-left:1px solid #eaeef2;background:transparent}
.cell.lib{opacity:.75}
.cell.preempted{box-shadow:inset 0 3px 0 var(--violet)}
.cell.lost-write{background:var(--redbg);outline:2px solid var(--red);outline-offset:-2px}
.cell.lost-old{background:var(--amberbg);outline:2px solid #d4a72c;outline-offset:-2px}
.line{display:flex;flex-wrap:wrap;align-items:baseline;gap:0 10px;margin-bottom:1px}
.src{flex:1 1 12em;white-space:pre-wrap;overflow-wrap:anywhere;color:#0550ae}
.loc{font:11.5px var(--mono);color:var(--dim);margin-left:auto;white-space:nowrap}
.acc{font-family:var(--mono);font-size:12px;overflow-wrap:anywhere}
.acc.w{font-weight:600}.acc.r{color:#24292f}
.note{font-size:12px;color:#0969da;background:#ddf4ff;border-radius:4px;padding:1px 6px;margin-top:2px}
.sync{font-size:12px;color:#953800;background:#fff1e5;border-radius:4px;padding:1px 6px;margin-top:2px}
.link{font-size:12px;font-weight:600;color:var(--red);margin-top:3px}
.anchor{scroll-margin-top:48px}
.cell:has(.anchor:target){outline:3px solid #0969da;outline-offset:-3px}
details.fold>summary{cursor:pointer;padding:4px 10px 4px 4.8em;color:var(--dim);font-size:12.5px;
background:repeating-linear-gradient(135deg,#f6f8fa 0 8px,#fff 8px 16px);border-top:1px solid #eaeef2}
details.fold[open]>summary{border-bottom:1px solid var(--line)}
.c0{--c:#0969da}.c1{--c:#1a7f37}.c2{--c:#8250df}.c3{--c:#bc4c00}.c4{--c:#0a7ea4}
.c5{--c:#bf3989}.c6{--c:#4d7c0f}.c7{--c:#6639ba}.c8{--c:#9a6700}.c9{--c:#116329}
.cycle-svg{max-width:100%;height:auto;display:block;margin:4px 0;background:#fff;
border:1px solid var(--line);border-radius:6px}
.cycle-svg .node ellipse{fill:#fff1f0;stroke:#b91c1c;stroke-width:2}
.cycle-svg text{font:12.5px var(--mono);fill:#1f2328}
.cycle-svg .edge{fill:none;stroke:#b91c1c;stroke-width:2}
.cycle-svg .node text{font-weight:600;font-family:system-ui,sans-serif;font-size:13px}
.box.cycle{background:#fff}.cycle-row{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:center}
.strip{display:flex;flex-wrap:wrap;gap:2px;margin:6px 0 10px}
.run{display:inline-block;width:10px;height:14px;border-radius:2px;background:#8c959f}
.legend .run{vertical-align:-2px;margin-left:8px}
.run.s0{background:#54aeff}.run.s1{background:#4ac26b}.run.s2{background:#c297ff}
.run.s3{background:#fb8f44}.run.s4{background:#6cb6ff}.run.s5{background:#d4a72c}
.run.bad{background:var(--red)}
.terminal summary{cursor:pointer;color:var(--dim)}
.note-line{color:var(--dim)}
"""

# The copy buttons: the clipboard API when the page may use it, else select the
# text for Ctrl+C (file:// pages, or browsers that refuse clipboard access, reject
# or lack navigator.clipboard; nothing here may throw).
_JS = """
document.documentElement.classList.add("js");
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button.copy");
  if (!button) { return; }
  var code = document.getElementById(button.getAttribute("data-copy"));
  if (!code) { return; }
  function done(how, label) {
    button.setAttribute("data-copied", how);
    button.textContent = label;
    setTimeout(function () { button.textContent = "Copy"; }, 2500);
  }
  function select() {
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    done("selected", "Selected: press Ctrl+C");
  }
  try {
    navigator.clipboard.writeText(code.textContent).then(function () { done("clipboard", "Copied"); }, select);
  } catch (error) {
    select();
  }
});
"""


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n"
            f'<footer class="dim"><p>Written by racecheck.</p></footer>'
            f"<script>{_JS}</script></body></html>\n")
