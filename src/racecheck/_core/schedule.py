"""A schedule is data: the thread chosen at every real choice point, plus a codec.

Only *choice points* are stored (points where more than one thread could run);
the run between them is determined by the code.  The choices are run-length
encoded, since a schedule is mostly long runs of one thread, then packed as
unsigned varints, compressed and written in URL-safe base64.

Token layout (version 2)::

    rc2.<python tag>.<random seed>.<payload>

``random seed`` is the seed ``random`` (and NumPy's global generator) got at
the start of the schedule, so values drawn from them replay too.  Version 1
tokens (``rc1.<python tag>.<payload>``) are still read, with seed 0.

``python tag`` is e.g. ``311``: bytecode differs between CPython versions, so a
token is only promised to replay on the version that printed it.  The payload
is never unpickled or evaluated: it is parsed as a list of integers and checked
(compare Hypothesis' ``decode_failure`` version check).
"""

from __future__ import annotations

import base64
import binascii
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import InvalidToken

TOKEN_VERSION = "rc2"
_READS = ("rc1", "rc2")
PYTHON_TAG = f"{sys.version_info[0]}{sys.version_info[1]}"
_MAX_CHOICES = 50_000_000  # a decoded token larger than this is not ours


@dataclass(frozen=True)
class Schedule:
    """The sequence of thread ids chosen at each choice point of one execution."""

    choices: tuple[int, ...]
    python: str = PYTHON_TAG
    rseed: int = 0

    def to_token(self) -> str:
        payload = zlib.compress(bytes(_varints(_run_lengths(self.choices))), 9)
        text = base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")
        return f"{TOKEN_VERSION}.{self.python}.{self.rseed}.{text}"

    @classmethod
    def from_token(cls, token: object) -> Schedule:
        if not isinstance(token, str):
            raise InvalidToken(
                f"a replay token is a string like 'rc1.311.eJz...', not {type(token).__name__}"
            )
        parts = token.strip().split(".")
        if len(parts) not in (3, 4) or not parts[0].startswith("rc"):
            raise InvalidToken(
                f"{_short(token)!r} is not a racecheck replay token: expected "
                "'rc2.<python>.<seed>.<data>', copied whole from a racecheck report"
            )
        version = parts[0]
        if version not in _READS:
            raise InvalidToken(
                f"token version {version!r} is not supported by this racecheck "
                f"(it reads {', '.join(map(repr, _READS))}); re-run the exploration to get "
                "a new token"
            )
        if len(parts) != (4 if version == "rc2" else 3):
            raise InvalidToken(f"token {_short(token)!r} is damaged (wrong number of fields)")
        python, text = parts[1], parts[-1]
        rseed = 0
        if version == "rc2":
            if not parts[2].isdigit() or len(parts[2]) > 10:
                raise InvalidToken(f"token {_short(token)!r} has a malformed seed {parts[2]!r}")
            rseed = int(parts[2])
        if not python.isdigit():
            raise InvalidToken(f"token {_short(token)!r} has a malformed Python tag {python!r}")
        try:
            raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            numbers = list(_read_varints(raw))
        except (binascii.Error, zlib.error, ValueError) as exc:
            raise InvalidToken(
                f"token {_short(token)!r} is damaged ({exc}); copy the whole line from the report"
            ) from None
        if len(numbers) % 2:
            raise InvalidToken(f"token {_short(token)!r} is damaged (odd run-length data)")
        choices: list[int] = []
        for tid, count in zip(numbers[::2], numbers[1::2], strict=True):
            if count == 0 or len(choices) + count > _MAX_CHOICES:
                raise InvalidToken(f"token {_short(token)!r} is damaged (bad run length)")
            choices.extend([tid] * count)
        return cls(tuple(choices), python, rseed)


def _short(token: str) -> str:
    return token if len(token) <= 40 else token[:37] + "..."


def _run_lengths(choices: Sequence[int]) -> Iterable[int]:
    i = 0
    while i < len(choices):
        j = i
        while j < len(choices) and choices[j] == choices[i]:
            j += 1
        yield choices[i]
        yield j - i
        i = j


def _varints(numbers: Iterable[int]) -> Iterable[int]:
    for n in numbers:
        if n < 0:
            raise ValueError("schedules hold non-negative integers only")
        while True:
            byte = n & 0x7F
            n >>= 7
            if n:
                yield byte | 0x80
            else:
                yield byte
                break


def _read_varints(data: bytes) -> Iterable[int]:
    n = shift = 0
    for byte in data:
        n |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")
        else:
            yield n
            n = shift = 0
    if shift:
        raise ValueError("truncated varint")
