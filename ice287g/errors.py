"""The base of errors that are the user's to fix (a bad date, a busy store): the CLI prints
their message on one line instead of a traceback. Kept tiny so importing it costs nothing."""


class UserError(Exception):
    pass
