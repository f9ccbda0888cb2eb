"""The error raised for bad user input (files, folders, checkpoints, options)."""


class OEEMInputError(ValueError):
    """A problem with what the user gave us, stated in one line.

    Tools catch it and print ``error: <message>`` without a traceback; the
    message names the offending file (or option) and the problem.
    """
