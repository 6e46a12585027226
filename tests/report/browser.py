"""Load a page in Debian's headless chromium, with the command line alone.

``load`` returns the DOM after the page's scripts ran (``--dump-dom``) and
every message the page wrote to its console.  Chromium prints those to stderr
with ``--enable-logging=stderr`` as ``...:CONSOLE:<line>] "<message>", source:
<url> (<line>)``, without their level: an uncaught exception reads
``"Uncaught Error: boom"``, a ``console.error`` just its text.  racecheck's
pages write nothing to the console, so any message at all is a failure; the
negative control in test_html.py proves a thrown error does show up here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Headless, as root (no sandbox), no GPU, and nothing that reaches the network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars")

#: Virtual milliseconds the page may run (timers, promises) before the DOM is dumped:
#: long enough for a copy button's clipboard promise to settle, and no wall time.
BUDGET_MS = 1000

_CONSOLE = re.compile(r':CONSOLE[^\]]*\] "(?P<message>.*)", source: (?P<source>.*)$')

MISSING = "Debian's chromium is not installed: apt-get install chromium"


def chromium() -> str | None:
    return shutil.which("chromium")


@dataclass
class Loaded:
    dom: str
    #: Every console message, in order ("Uncaught Error: boom (file:///x.html (1))").
    console: list[str]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    assert exe is not None, MISSING
    with tempfile.TemporaryDirectory(prefix="racecheck-chromium-") as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=60, check=False)


def url(path: Path) -> str:
    return path.resolve().as_uri()


def load(path: Path) -> Loaded:
    """The page's DOM once its scripts ran, and what it wrote to its console."""
    done = _run("--enable-logging=stderr", "--v=0", f"--virtual-time-budget={BUDGET_MS}",
                "--dump-dom", url(path))
    assert done.returncode == 0, f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}"
    console = []
    for line in done.stderr.splitlines():
        found = _CONSOLE.search(line)
        if found:
            console.append(f"{found['message']} ({found['source']})")
        elif ":CONSOLE" in line:  # a format this parser does not know: still a message
            console.append(line)
    return Loaded(done.stdout, console)


def screenshot(path: Path, png: Path, width: int = 1400, height: int = 1000) -> None:
    """A PNG of the page's first ``height`` pixels at a laptop's width."""
    png.unlink(missing_ok=True)
    done = _run(f"--screenshot={png.resolve()}", f"--window-size={width},{height}",
                f"--virtual-time-budget={BUDGET_MS}", url(path))
    assert done.returncode == 0, f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}"
    assert png.exists(), f"chromium wrote no screenshot:\n{done.stderr[-3000:]}"


def check_run_page(page: Path, report: Path, png: Path | None = None) -> str:
    """Load a ``--racecheck-html`` run page and check it against the run's JSON report.

    No console message; a row per explored test; a failure section per race,
    each with its thread lanes and its replay line.  Returns a one-line summary;
    raises AssertionError naming what is missing.
    """
    import json

    loaded = load(page)
    assert not loaded.console, f"console messages: {loaded.console}"
    dom = loaded.dom
    data = json.loads(report.read_text(encoding="utf-8"))
    races = [t for t in data["tests"] if t["failure"] is not None]
    rows = re.findall(r'<tr class="\w+"><td class="nodeid">', dom)
    assert len(rows) == len(data["tests"]), (len(rows), len(data["tests"]))
    sections = re.findall(r'<section class="failure[ a-z]*" id="t\d+-failure">', dom)
    assert len(sections) == len(races), (len(sections), len(races))
    for test in races:
        token = test["failure"]["token"]
        assert f'replay="{token}"' in dom, f"no replay line for {test['nodeid']}"
        for thread in test["failure"]["threads"]:
            assert f">{thread['name']}<" in dom, f"no lane for {thread['name']}"
    if png is not None:
        screenshot(page, png)
    return (f"{page}: {len(rows)} tests, {len(sections)} failures with lanes and replay lines, "
            "no console message")


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    if len(args) not in (2, 3):
        sys.exit("usage: python tests/report/browser.py RUN.html REPORT.json [SCREENSHOT.png]")
    if chromium() is None:
        print(f"skipped: {MISSING}")
        sys.exit(0)
    print(check_run_page(Path(args[0]), Path(args[1]), Path(args[2]) if len(args) == 3 else None))
