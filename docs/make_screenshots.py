"""Regenerate the HTML report's screenshots: docs/img/report-{lost-update,deadlock,run}.png.

    python docs/make_screenshots.py

Needs Debian's chromium (``apt-get install chromium``).  The pages are real:
the lost update is the seed's ``increase_db_value`` from
examples/test_db_value.py explored by ``racecheck.explore``, the deadlock an
ABBA lock order written below, and the run page a real ``pytest --racecheck
--racecheck-html`` run of the whole examples/ directory (the README's main
job; about two minutes).  Seeds are fixed, so the pictures change only when
the report does.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import types
from pathlib import Path

import racecheck

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
SIZE = "1400,1000"


def _example() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("test_db_value", ROOT / "examples" /
                                                  "test_db_value.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lost_update_page(path: Path) -> None:
    example = _example()

    def reset() -> None:
        example.db_value = 0

    def both_counted(_: object) -> None:
        assert example.db_value == 2, f"db_value is {example.db_value}"

    def increase(_: object) -> None:
        example.increase_db_value()

    result = racecheck.explore([increase, increase], setup=reset, invariant=both_counted,
                               seed=1, schedules=50)
    assert result.failure is not None
    result.failure.to_html(path)


def two_locks() -> types.SimpleNamespace:
    lock_a = threading.Lock()
    lock_b = threading.Lock()
    return types.SimpleNamespace(a=lock_a, b=lock_b)


def a_then_b(locks: types.SimpleNamespace) -> None:
    with locks.a, locks.b:
        pass


def b_then_a(locks: types.SimpleNamespace) -> None:
    with locks.b, locks.a:
        pass


def deadlock_page(path: Path) -> None:
    result = racecheck.explore([a_then_b, b_then_a], setup=two_locks, seed=1, schedules=50)
    assert result.failure is not None and result.failure.kind == "deadlock"
    result.failure.to_html(path)


def run_page(path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--racecheck", "--racecheck-seed=1", f"--racecheck-html={path}",
                           "examples/"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        sys.exit(f"pytest failed:\n{done.stdout}{done.stderr}")


def screenshot(page: Path, png: Path) -> None:
    """What tests/report/browser.py does, without the test suite's imports."""
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Debian's chromium is not installed: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="racecheck-chromium-") as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--screenshot={png}",
                        f"--window-size={SIZE}", page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=60)
    print(f"wrote {png.relative_to(ROOT)} ({png.stat().st_size // 1024} KB)")


def main() -> None:
    os.chdir(ROOT)  # the lanes show the repository's files relative to it
    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in [("lost-update", lost_update_page), ("deadlock", deadlock_page),
                            ("run", run_page)]:
            page = Path(tmp, f"{name}.html")
            build(page)
            screenshot(page, IMG / f"report-{name}.png")


if __name__ == "__main__":
    main()
