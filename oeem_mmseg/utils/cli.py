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


def add_cfg_options(parser) -> None:
    """``--cfg-options key=value ...``: config overrides (MMEngine style)."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. '
        'train_cfg.max_iters=20 or "key=[a,b]")')


def add_launcher_options(parser, launchers) -> None:
    """``--launcher`` and the ``--local-rank`` older launchers pass."""
    parser.add_argument(
        '--launcher', choices=launchers, default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
