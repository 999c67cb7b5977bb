"""The one error family that the CLI turns into a one-line message and exit code 2."""

from __future__ import annotations


class AkscanError(Exception):
    """A usage or runtime error the user can act on; str(err) is the whole message."""


class RuleError(AkscanError):
    """A rule file that cannot be loaded; the message names the file, rule and field."""


class ConfigError(AkscanError):
    """A configuration file or option that is invalid."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (its name is the one argument): stop as for Ctrl-C, through the CLI's
    boundary, so no partial report stays and the message names the signal."""
