"""Atomicity violation: a lazily built table is marked "initialised" before it is filled.

``mimetypes`` initialised itself lazily on first use, and that initialisation
was not thread-safe (bpo-5853): a thread could run a lookup against a database
another thread was still building.  Downstream servers worked around it by
calling ``mimetypes.init()`` from the main thread before starting workers
(toastdriven/itty#5 quotes the issue; Trac's ``trac.web`` and Webware carry a
"workaround for ... issue5853 thread issues").  Re-expressed: ``init`` sets
the flag and then fills the table, so "flag set" and "table filled" are meant
to be one atomic step but are two.  The fix builds the table privately and
publishes it with a single store, so a reader sees no table or a whole one.
"""

from __future__ import annotations

from ._scenario import Scenario, Side, check

CITATION = (
    "https://bugs.python.org/issue5853 (mimetypes init not thread-safe); "
    "https://github.com/toastdriven/itty/issues/5; Trac trac/web/__init__.py (workaround comment)"
)

DEFAULT_TYPES = ((".html", "text/html"), (".css", "text/css"), (".png", "image/png"))


class MimeDB:
    def __init__(self) -> None:
        self.inited = False
        self.types_map: dict[str, str] = {}
        self.table: dict[str, str] | None = None  # the fixed side's published table
        self.answers: dict[str, str | None] = {}

    # racy: flag first, then fill
    def init(self) -> None:
        self.inited = True
        for ext, mime in DEFAULT_TYPES:
            self.types_map[ext] = mime

    def guess_type(self, ext: str) -> str | None:
        if not self.inited:
            self.init()
        return self.types_map.get(ext)

    # fixed: fill privately, publish whole
    def init_fixed(self) -> dict[str, str]:
        table = dict(DEFAULT_TYPES)
        self.table = table
        return table

    def guess_type_fixed(self, ext: str) -> str | None:
        table = self.table
        if table is None:
            table = self.init_fixed()
        return table.get(ext)


def serve_html(db: MimeDB) -> None:
    db.answers[".html"] = db.guess_type(".html")


def serve_png(db: MimeDB) -> None:
    db.answers[".png"] = db.guess_type(".png")


def serve_html_fixed(db: MimeDB) -> None:
    db.answers[".html"] = db.guess_type_fixed(".html")


def serve_png_fixed(db: MimeDB) -> None:
    db.answers[".png"] = db.guess_type_fixed(".png")


def invariant(db: MimeDB) -> None:
    expected = {".html": "text/html", ".png": "image/png"}
    check(db.answers == expected, f"guesses {db.answers}, expected {expected}")


SCENARIO = Scenario(
    name="s_mimetypes_publish_early",
    category="atomicity violation",
    citation=CITATION,
    summary="lazy init sets `inited = True` before filling the map; a second thread's lookup misses",
    racy=Side(MimeDB, [serve_html, serve_png], invariant),
    fixed=Side(MimeDB, [serve_html_fixed, serve_png_fixed], invariant),
    expect="violation",
)
