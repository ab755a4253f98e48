"""The one error a command raises to stop with a message."""


class CommandError(Exception):
    """A command that cannot go on; `main` prints the message and exits with status 1."""
