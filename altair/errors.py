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


class FailedWorkError(AltairError, RuntimeError):
    """The work itself failed (a worker process, a rank), as opposed to bad input: the
    command-line tools exit 1 for it, 2 for every other ``AltairError``."""


class DataError(AltairError, ValueError):
    """A dataset (images, labels, sidecars) that Altair cannot train on as it is."""


class DataNotFoundError(AltairError, FileNotFoundError):
    """A data file or folder that does not exist."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``'s message (its type's name when empty), at most ``limit``
    characters: a library's multi-line error as the reason in a one-line Altair error."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]


class RenamedKeywordError(AltairError, TypeError):
    """A keyword given under its former name and its new one together."""


_WARNED: set[str] = set()


def warn_once(key: str, message: str, *, stacklevel: int = 3) -> None:
    """A ``FutureWarning`` of ``message``, once per process and ``key`` (a former name:
    the flag, the keyword or the form of ``--out`` that changed)."""
    if key not in _WARNED:
        _WARNED.add(key)
        import warnings
        warnings.warn(message, FutureWarning, stacklevel=stacklevel + 1)


def renamed_keyword(old: str, old_value, new: str, new_value):
    """The value of keyword ``new``, also given under its former name ``old``: that name
    warns (a ``FutureWarning``, once per process and name) and its value is used.

    Raises:
        RenamedKeywordError: both names given.
    """
    if old_value is None:
        return new_value
    if new_value is not None:
        raise RenamedKeywordError(f'{old}={old_value!r} and {new}={new_value!r}: {old} is the '
                                  f'former name of {new}; give {new} only')
    warn_once(f'keyword {old}', f'{old}= is deprecated: use {new}=')
    return old_value
