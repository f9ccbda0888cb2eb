"""What every command-line tool shares: one-line errors for user mistakes,
and no library warnings that tell the user nothing."""
import errno
import functools
import sys
import warnings
from typing import Callable

from .errors import OEEMInputError

# errors of the machine, not of the program: one line, like user errors
FULL = (errno.ENOSPC, errno.EDQUOT)
# packages whose warnings (deprecations, MMSeg's "reduce_zero_label" and
# the like) are about their own code, not about the user's data
QUIET_MODULES = r'(mmseg|mmengine|mmpretrain|mmcv|torch|torchvision)(\.|$)'


def quiet_library_warnings() -> None:
    """Silence ``UserWarning``s and deprecations raised inside the
    libraries (:data:`QUIET_MODULES`); this package's own warnings stay."""
    for category in (UserWarning, DeprecationWarning, FutureWarning):
        warnings.filterwarnings('ignore', category=category,
                                module=QUIET_MODULES)


def exit_on_user_error(main: Callable) -> Callable:
    """Wrap a tool's ``main``: an :class:`OEEMInputError` (or a missing file,
    or a full disk) prints ``error: <message>`` once on stderr and exits
    with status 2, without a traceback. Other exceptions are bugs and keep
    their traceback. Library warnings are silenced
    (:func:`quiet_library_warnings`)."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        quiet_library_warnings()
        try:
            return main(*args, **kwargs)
        except (OEEMInputError, FileNotFoundError) as error:
            print(f'error: {error}', file=sys.stderr)
            sys.exit(2)
        except OSError as error:
            if error.errno not in FULL:
                raise
            print(f'error: {error.filename or "output"}: cannot be written, '
                  f'{error.strerror or "no space left"}; free some space and '
                  'run again (finished outputs are kept)', file=sys.stderr)
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
