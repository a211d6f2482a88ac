"""Errors a user can act on. The CLI prints their message as one line; the API as ``detail``.

Each message says what was expected, what was found and how to fix it.
"""


class LatepayError(Exception):
    """Base of every error latepay reports to a person instead of a traceback."""


class InputError(LatepayError):
    """A file, mapping, option or request that cannot be used as given."""


class NotEnoughDataError(LatepayError):
    """Too little history to do what was asked (train, backtest, forecast)."""


class NotFoundError(LatepayError):
    """A named thing (invoice, customer, model version) does not exist."""


class ConflictError(LatepayError):
    """A request contradicts what is stored (an invoice id already used for other content)."""
