"""One exception family for everything a user can get wrong.

The CLI turns any ``LowFormerNASError`` into one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""


class LowFormerNASError(Exception):
    """Base class: a problem with user input or the environment, explained in one line."""


class ConfigError(LowFormerNASError, ValueError):
    """An architecture config or YAML file breaks a rule."""


class UnknownNameError(LowFormerNASError, KeyError):
    """A registry name (architecture, space, target) does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SpaceError(LowFormerNASError, ValueError):
    """A search-space description is invalid."""


class ProfileError(LowFormerNASError, ValueError):
    """A latency profile or measurement file is invalid."""


class DatasetError(LowFormerNASError, ValueError):
    """A dataset is missing or malformed."""


class RunError(LowFormerNASError, ValueError):
    """A run directory is missing, foreign or inconsistent."""
