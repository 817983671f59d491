"""The one error type xlc raises for bad input: its message is a single line naming the file,
the item or the option, and the fix. The command line prints it and exits non-zero."""


class XlcError(Exception):
    """Bad input or configuration, with a one-line message that says what to fix."""
