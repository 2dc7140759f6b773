"""`CheckpointError`, in a module of its own so every reader of a run's files can raise it."""


class CheckpointError(ValueError):
    """A run directory that is missing, corrupt, in use, or does not match what it is loaded
    into."""


def shown(value: object, most: int = 60) -> str:
    """A value from a damaged file as an error shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."
