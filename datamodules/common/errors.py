"""The exceptions the scripts turn into one ``error:`` line, without a traceback, and a non-zero exit."""
import functools
import sys


class UserInputError(ValueError):
    """A problem with what the user gave us: the message names the file/row/field and what was expected."""


class TrainingStoppedError(RuntimeError):
    """Training cannot go on (the loss stays NaN, memory ran out): the message says why and what to change."""


def exit_code_on_user_error(main):
    """Decorate a script's ``main``: a UserInputError becomes one ``error:`` line on stderr and exit code 2."""
    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except UserInputError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    return wrapper
