"""What every command-line tool shares: one-line errors for user mistakes."""
import functools
import sys
from typing import Callable

from .errors import OEEMInputError


def exit_on_user_error(main: Callable) -> Callable:
    """Wrap a tool's ``main``: an :class:`OEEMInputError` (or a missing file)
    prints ``error: <message>`` on stderr and exits with status 2, without a
    traceback. Other exceptions are bugs and keep their traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except (OEEMInputError, FileNotFoundError) as error:
            print(f'error: {error}', file=sys.stderr)
            sys.exit(2)

    return wrapper
