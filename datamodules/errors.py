"""The one exception type for bad user input (files, flags, data).

Scripts catch it and print its message as a single line, without a traceback.
"""


class UserInputError(ValueError):
    """A problem with what the user gave us: the message names the file/row/field and what was expected."""
