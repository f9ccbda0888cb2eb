from .cli import exit_on_user_error
from .errors import OEEMInputError

__all__ = ['OEEMInputError', 'exit_on_user_error']
