"""The HTML report (issue 14): pages drawn from real explorations, then loaded in a browser.

The first tests read the page source; the browser tests load each page in
Debian's headless chromium (tests/report/browser.py) and check that it runs
without a console message, that the DOM after its scripts ran shows the lanes
and the marks, and that it paints.  They skip only when chromium is missing.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest

import racecheck
from racecheck._html import KEEP_LAST_STEPS, write_failure_page, write_run_page

from . import browser

# ------------------------------------------------------------- the scenarios

db_value = 0


def _reset() -> None:
    global db_value
    db_value = 0


def increase_db_value(_: object = None) -> None:
    """The seed's lost update: read, "process", write back."""
    global db_value
    local = db_value
    time.sleep(0.1)
    db_value = local + 1


def increase_at_once(_: object = None) -> None:
    """The same without the sleep: only a preemption between the two lines loses an update."""
    global db_value
    local = db_value
    db_value = local + 1


def both_counted(_: object = None) -> None:
    assert db_value == 2, f"db_value is {db_value}"


def two_locks() -> types.SimpleNamespace:
    lock_a = threading.Lock()
    lock_b = threading.Lock()  # a line of its own: the two locks get different names
    return types.SimpleNamespace(a=lock_a, b=lock_b)


def a_then_b(locks: types.SimpleNamespace) -> None:
    with locks.a, locks.b:
        pass


def b_then_a(locks: types.SimpleNamespace) -> None:
    with locks.b, locks.a:
        pass


def _failure(threads: list[Any], **kwargs: Any) -> racecheck.Failure:
    result = racecheck.explore(threads, seed=1, schedules=50, **kwargs)
    assert result.failure is not None, result
    return result.failure


@pytest.fixture(scope="module")
def lost_update() -> racecheck.Failure:
    failure = _failure([increase_db_value, increase_db_value], setup=_reset,
                       invariant=both_counted)
    assert failure.kind == "violation" and failure.to_data()["lost_updates"]
    return failure


@pytest.fixture(scope="module")
def preempted_lost_update() -> racecheck.Failure:
    return _failure([increase_at_once, increase_at_once], setup=_reset, invariant=both_counted)


@pytest.fixture(scope="module")
def deadlock() -> racecheck.Failure:
    failure = _failure([a_then_b, b_then_a], setup=two_locks)
    assert failure.kind == "deadlock"
    return failure


def _page(failure: racecheck.Failure, path: Path) -> str:
    failure.to_html(path)
    return path.read_text(encoding="utf-8")


def _lane_heads(page: str) -> list[str]:
    return re.findall(r'<div class="lane-head[^"]*"[^>]*>([^<]*)</div>', page)


def _steps(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'id="step-(\d+)"', page)}


# ------------------------------------------------------------ page source


def test_lost_update_page_links_the_two_writes(lost_update: racecheck.Failure,
                                              tmp_path: Path) -> None:
    page = _page(lost_update, tmp_path / "lost.html")
    data = lost_update.to_data()
    assert _lane_heads(page) == ["T1", "T2"]
    assert _steps(page) == set(range(len(data["steps"])))  # every step has its anchor
    (pair,) = data["lost_updates"]
    write, lost = pair["write"], pair["lost"]
    assert data["steps"][write]["tid"] != data["steps"][lost]["tid"]
    # Each write's cell is marked and links to the other one.
    cell = {i: re.search(rf'<div class="cell ([^"]*)">(?:(?!<div class="cell).)*'
                         rf'id="step-{i}"', page, re.S) for i in (write, lost)}
    assert cell[write] is not None and "lost-write" in cell[write][1]
    assert cell[lost] is not None and "lost-old" in cell[lost][1]
    assert f'overwrote the write of <a href="#step-{lost}">' in page
    assert f'overwritten by <a href="#step-{write}">' in page
    assert "writes db_value = 1" in page and "reads db_value -&gt; 0" in page
    assert "lost update" in page and "db_value = local + 1" in page
    assert lost_update.token in page
    assert re.search(r'<code id="replay">[^<]*' + re.escape(lost_update.token), page)
    assert 'class="copy" data-copy="replay"' in page
    assert "AssertionError" in page and "db_value is 1" in page
    # No step was preempted (the threads switch at the sleep): no cell says so.
    assert not any(s["preempted"] for s in data["steps"])
    assert not re.search(r'<div class="cell [^"]*preempted', page)


def test_a_preempted_step_is_marked(preempted_lost_update: racecheck.Failure,
                                   tmp_path: Path) -> None:
    page = _page(preempted_lost_update, tmp_path / "preempted.html")
    preempted = [s["index"] for s in preempted_lost_update.to_data()["steps"] if s["preempted"]]
    assert preempted
    marked = re.findall(r'<div class="cell [^"]*preempted[^"]*">(?:(?!<div class="cell).)*?'
                        r'id="step-(\d+)"', page, re.S)
    assert [int(i) for i in marked] == preempted
    assert "the scheduler switched to this thread" in page  # the legend says what it means


def test_deadlock_page_draws_the_wait_for_cycle(deadlock: racecheck.Failure,
                                               tmp_path: Path) -> None:
    page = _page(deadlock, tmp_path / "deadlock.html")
    data = deadlock.to_data()
    svg = re.search(r"<svg .*?</svg>", page, re.S)
    assert svg is not None
    locks = {edge["resource"] for edge in data["cycle"]}
    assert len(locks) == 2
    for name in ["T1", "T2", *locks]:
        assert name in svg[0]
    assert svg[0].count('class="edge"') == 2  # one arrow per edge of the cycle
    for edge in data["cycle"]:
        assert f"{edge['waiter']} waits for {edge['resource']} held by {edge['holder']}" in page
    assert "Blocked threads" in page
    # The shrinker's sentence, from the data.
    assert data["shrink_runs"] > 0
    found = re.search(r"found at schedule (\d+) with (\d+) preemptions?(, shrunk to (\d+)|; no "
                      r"simpler schedule fails the same way)", page)
    assert found is not None
    assert (int(found[1]), int(found[2])) == (data["schedule_index"] + 1,
                                              data["found_preemptions"])
    assert found[4] is None or int(found[4]) == data["preemptions"]
    assert re.search(r'<div class="cell [^"]*preempted', page)


def test_a_pass_shows_its_evidence_and_no_failure(tmp_path: Path) -> None:
    def locked(state: types.SimpleNamespace) -> None:
        with state.lock:
            state.n += 1

    result = racecheck.explore(
        [locked, locked], setup=lambda: types.SimpleNamespace(lock=threading.Lock(), n=0),
        invariant=lambda state: state.n == 2, seed=1, schedules=30)
    assert result.ok
    result.to_html(tmp_path / "pass.html")
    page = (tmp_path / "pass.html").read_text(encoding="utf-8")
    assert html.escape(str(result.evidence)) in page
    assert 'class="box evidence exhaustive"' in page
    assert 'class="failure' not in page and "Interleaving" not in page
    marks = re.findall(r'<span class="run (s\d)( bad)?" title="schedule \d+', page)
    assert len(marks) == result.schedules_run and not any(bad for _, bad in marks)
    depth = result.evidence.exhaustive_up_to_preemptions
    assert depth is not None  # the default strategy's DPOR covers a bound...
    assert f"Exhaustive: every schedule with ≤ {depth} preemption" in page  # ...and says so


def test_user_text_is_escaped(tmp_path: Path) -> None:
    def check(_: object = None) -> None:
        assert db_value == 2, '<script>alert("x")</script> & friends'

    failure = _failure([increase_db_value, increase_db_value], setup=_reset, invariant=check)
    page = _page(failure, tmp_path / "escaped.html")
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends" in page
    assert page.count("<script>") == 1  # the page's own


def test_long_runs_of_library_steps_fold(lost_update: racecheck.Failure, tmp_path: Path) -> None:
    """The seed's six steps, then 81 steps inside threading.py, one of them preempted."""
    data = lost_update.to_data()
    lib = os.path.join(os.path.dirname(os.__file__), "threading.py")
    filler = [dict(data["steps"][0], tid=t["tid"], thread=t["name"], file=lib, line=300 + n,
                   source="waiter.acquire()", kind="lib", access="", note="", preempted=False)
              for n, t in enumerate(data["threads"] * 41)][:81]
    filler[40]["preempted"] = True
    steps = data["steps"] + filler
    for i, step in enumerate(steps):
        step["index"] = i
    data["steps"] = steps
    write_failure_page(data, tmp_path / "long.html")
    page = (tmp_path / "long.html").read_text(encoding="utf-8")
    folds = re.findall(r'<details class="fold"><summary>(.*?)</summary>(.*?)</details>',
                       page, re.S)
    # The filler folds around its preempted step, up to the trace's last steps.
    preempted, end = 6 + 40, len(steps) - KEEP_LAST_STEPS
    assert [_steps(inner) for _, inner in folds] == [set(range(6, preempted)),
                                                     set(range(preempted + 1, end))]
    assert folds[0][0].startswith("… 40 steps of T1, T2")
    assert "threading.py:300" in folds[0][1]  # a library file by its basename
    assert _steps(page) == set(range(len(steps)))  # folded steps keep their anchors


# ------------------------------------------------------------- the browser

needs_chromium = pytest.mark.skipif(browser.chromium() is None, reason=browser.MISSING)


def _check_in_browser(page: Path, png: Path) -> str:
    loaded = browser.load(page)
    assert loaded.console == [], loaded.console
    assert '<html lang="en" class="js">' in loaded.dom  # the page's script ran to its end
    browser.screenshot(page, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000, png.stat().st_size  # painted, not a blank page
    return loaded.dom


@needs_chromium
def test_the_console_check_catches_an_error(tmp_path: Path) -> None:
    """The negative control: a page that throws must not pass for a clean one."""
    page = tmp_path / "boom.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><script>throw new Error("boom")'
                    "</script></body></html>", encoding="utf-8")
    loaded = browser.load(page)
    assert any("Uncaught Error: boom" in line for line in loaded.console), loaded.console
    assert "<p>x</p>" in loaded.dom


@needs_chromium
def test_lost_update_page_in_a_browser(lost_update: racecheck.Failure, tmp_path: Path) -> None:
    _page(lost_update, tmp_path / "lost.html")
    dom = _check_in_browser(tmp_path / "lost.html", tmp_path / "lost.png")
    assert _lane_heads(dom) == ["T1", "T2"]
    (pair,) = lost_update.to_data()["lost_updates"]
    assert f'href="#step-{pair["lost"]}"' in dom and f'href="#step-{pair["write"]}"' in dom
    assert "lost-write" in dom and "lost-old" in dom
    assert lost_update.token in dom


@needs_chromium
def test_deadlock_page_in_a_browser(deadlock: racecheck.Failure, tmp_path: Path) -> None:
    _page(deadlock, tmp_path / "deadlock.html")
    dom = _check_in_browser(tmp_path / "deadlock.html", tmp_path / "deadlock.png")
    svg = re.search(r"<svg .*?</svg>", dom, re.S)
    assert svg is not None and "T1" in svg[0] and "T2" in svg[0]
    assert all(edge["resource"] in svg[0] for edge in deadlock.to_data()["cycle"])
    assert _lane_heads(dom) == ["T1", "T2"]
    assert deadlock.token in dom


@needs_chromium
def test_the_copy_button_does_not_throw(deadlock: racecheck.Failure, tmp_path: Path) -> None:
    """Headless on file:// the clipboard refuses; the button selects the text instead."""
    page = _page(deadlock, tmp_path / "deadlock.html")
    click = '<script>document.querySelector("button.copy").click()</script></body>'
    (tmp_path / "clicked.html").write_text(page.replace("</body>", click), encoding="utf-8")
    loaded = browser.load(tmp_path / "clicked.html")
    assert loaded.console == [], loaded.console
    assert re.search(r'data-copy="replay" data-copied="(clipboard|selected)"', loaded.dom)


_RUN_TESTS = '''
import threading
import time

import pytest

import racecheck

counter = 0


def bump():
    global counter
    local = counter
    time.sleep(0.1)
    counter = local + 1


@pytest.mark.xfail(raises=racecheck.RaceFound, strict=True)
def test_racy_counter():
    global counter
    counter = 0
    threads = [threading.Thread(target=bump) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter == 2


def test_locked_counter():
    global counter
    counter = 0
    lock = threading.Lock()

    def locked_bump():
        with lock:
            bump()

    threads = [threading.Thread(target=locked_bump) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter == 2


def test_no_threads():
    assert sum([1, 1]) == 2
'''


def _clean_env() -> dict[str, str]:
    """This process's environment without what would steer the inner pytest run."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PYTEST_")
            and not (k.startswith("RACECHECK_") and k != "RACECHECK_DEBUG")}


@pytest.fixture(scope="module")
def run_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``pytest --racecheck --racecheck-html`` run's page."""
    where = tmp_path_factory.mktemp("run")
    (where / "test_counter.py").write_text(textwrap.dedent(_RUN_TESTS), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--racecheck",
         "--racecheck-seed=1", f"--racecheck-html={where / 'run.html'}", "test_counter.py"],
        cwd=where, env=_clean_env(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed, 1 xfailed" in done.stdout, done.stdout
    return where / "run.html"


def test_run_page_rows_and_sections(run_page: Path) -> None:
    page = run_page.read_text(encoding="utf-8")
    assert "pytest --racecheck --racecheck-seed=1" in page
    assert "<b>2 tests</b> explored" in page and "<b>0 failures</b>" in page
    racy = re.search(r'<tr class="(\w+)"><td class="nodeid"><a href="#(t\d+-failure)">'
                     r'<span class="dim">test_counter.py::</span>test_racy_counter</a>', page)
    assert racy is not None and racy[1] == "expected"  # an xfail is no alarm
    assert f'id="{racy[2]}"' in page
    assert re.search(r'<tr class="ok"><td class="nodeid"><span class="dim">test_counter.py::'
                     r"</span>test_locked_counter</td>.*?exhaustive", page)
    assert "test_counter.py::test_no_threads" in page and "started no thread" in page
    assert "v-expected" in page and "Expected failure" in page


def test_run_page_renders_any_record(tmp_path: Path) -> None:
    """A record of an error (no failure data) and one xpassed: rows, no crash."""
    report = {"schema_version": 1, "racecheck_version": "0", "seed": 5, "not_explored": [],
              "tests": [{"nodeid": "t.py::test_<odd>", "ok": False, "verdict": "error",
                         "schedules_run": 3, "run_seed": 5, "strategy": "auto",
                         "elapsed": 0.5, "evidence": "", "evidence_detail": [],
                         "source": "exploration", "note": "", "report": "too long <x>",
                         "failure": None, "outcome": "failed"}]}
    write_run_page(report, tmp_path / "run.html")
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert "t.py::test_&lt;odd&gt;" in page and "too long &lt;x&gt;" in page
    assert "<b class=bad>1 failure</b>" in page


@needs_chromium
def test_run_page_in_a_browser(run_page: Path, tmp_path: Path) -> None:
    dom = _check_in_browser(run_page, tmp_path / "run.png")
    assert _lane_heads(dom) == ["main", "Thread-1 (bump)", "Thread-2 (bump)"]
    assert "lost-write" in dom and "lost-old" in dom
    assert re.search(r'<code id="t\d+-replay">@pytest.mark.racecheck\(replay="rc', dom)
    assert "</span>test_locked_counter</td>" in dom
