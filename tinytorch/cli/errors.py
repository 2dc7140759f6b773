"""Errors the `tinytorch` command reports as one line (see `tinytorch.cli.main`)."""


class UsageError(Exception):
    """A bad command line."""


class Interrupted(Exception):
    """Ctrl-C, once the command kept what it could; the message says truthfully what that is."""
