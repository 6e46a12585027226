"""racecheck: find thread races in Python code by exploring thread schedules.

The public API is this module's ``__all__``; everything else is private.
"""

from ._api import check as check
from ._api import explore as explore
from ._api import racecheck as racecheck
from ._api import replay as replay
from ._core.outcome import Evidence as Evidence
from ._core.outcome import Failure as Failure
from ._core.outcome import Result as Result
from ._core.outcome import ScheduleRun as ScheduleRun
from ._core.outcome import Verdict as Verdict
from ._settings import Settings as Settings
from .errors import DeadlockFound as DeadlockFound
from .errors import InvalidArgument as InvalidArgument
from .errors import InvalidToken as InvalidToken
from .errors import MissingDependency as MissingDependency
from .errors import NestedExploration as NestedExploration
from .errors import NotExplorable as NotExplorable
from .errors import RacecheckError as RacecheckError
from .errors import RaceFound as RaceFound
from .errors import ReplayDiverged as ReplayDiverged
from .errors import UsageError as UsageError

__version__ = "0.1.0"

__all__ = [
    "DeadlockFound",
    "Evidence",
    "Failure",
    "InvalidArgument",
    "InvalidToken",
    "MissingDependency",
    "NestedExploration",
    "NotExplorable",
    "RaceFound",
    "RacecheckError",
    "ReplayDiverged",
    "Result",
    "ScheduleRun",
    "Settings",
    "UsageError",
    "Verdict",
    "__version__",
    "check",
    "explore",
    "racecheck",
    "replay",
]
