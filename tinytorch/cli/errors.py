"""`UsageError`: a bad command line, reported as one line by `tinytorch.cli.main`."""


class UsageError(Exception):
    """A bad command line."""
