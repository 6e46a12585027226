"""The whole suite runs with racecheck's own consistency checks on (see _settings.DEBUG_CHECKS).

Set in the environment, so pytester's subprocesses and forked schedules check too.
"""

import os

os.environ.setdefault("RACECHECK_DEBUG", "baton")
