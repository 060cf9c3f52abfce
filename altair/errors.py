"""The base of every Altair error, so callers (the CLI first) can catch bad input in one place.

Each concrete error also derives from the built-in that fits (``ValueError``,
``FileNotFoundError``, ``KeyError``), so code written against those keeps working.
"""
from __future__ import annotations


class AltairError(Exception):
    """Bad input or a state Altair refuses to work from; the message says what to fix.

    ``str()`` is the message as given, also for the ``KeyError`` ones (which would quote it).
    """

    def __str__(self) -> str:
        if len(self.args) == 1:
            return str(self.args[0])
        return super().__str__()


class DataError(AltairError, ValueError):
    """A dataset (images, labels, sidecars) that Altair cannot train on as it is."""


class DataNotFoundError(AltairError, FileNotFoundError):
    """A data file or folder that does not exist."""
