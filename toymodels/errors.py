"""The error types the entry points turn into one line and an exit code (no imports, so no cycles)."""


class ConfigError(ValueError):
    """A configuration value, a run folder or a checkpoint that cannot work; the message is one line."""


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


def first_line(err: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
