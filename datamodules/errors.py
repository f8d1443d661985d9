"""The exceptions the scripts turn into one ``error:`` line, without a traceback, and a non-zero exit."""


class UserInputError(ValueError):
    """A problem with what the user gave us: the message names the file/row/field and what was expected."""


class TrainingStoppedError(RuntimeError):
    """Training cannot go on (the loss stays NaN, memory ran out): the message says why and what to change."""
