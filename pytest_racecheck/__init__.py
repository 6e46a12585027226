"""pytest plugin for racecheck.

Only the version lives here: pytest imports this package for every session
that has it installed, so it must stay free of the scheduler and its shims.
"""

__version__ = "0.1.0"
