"""Every error class defined under altair/ derives from AltairError and keeps a built-in parent;
the CLI prints each as one line with exit status 2 (1 for a failed worker)."""
from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest

import altair
from altair.errors import AltairError

SKIP_MODULES = {'altair.__main__'}  # runs the CLI when imported
FAILURES = {'FailedWorkError', 'TrainingFailedError', 'WorkerFailedError'}  # exit status 1
BUILTIN = (ValueError, LookupError, OSError, ImportError, RuntimeError, ArithmeticError,
           TypeError, pickle.UnpicklingError)  # the standard library's classes callers catch


def _error_classes() -> list[type]:
    found = {}
    for info in pkgutil.walk_packages(altair.__path__, 'altair.'):
        if info.name in SKIP_MODULES:
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and not issubclass(cls, Warning) \
                    and cls.__module__ == module.__name__:
                found[f'{cls.__module__}.{cls.__qualname__}'] = cls
    return [found[k] for k in sorted(found)]


ERRORS = _error_classes()


def test_the_sweep_finds_the_errors():
    names = {cls.__name__ for cls in ERRORS}
    assert {'UnknownPresetError', 'NoImagesError', 'ClassWeightError', 'UnsafeCheckpointError',
            'RunNotFoundError', 'DataError'} <= names
    assert len(ERRORS) >= 45


@pytest.mark.parametrize('cls', ERRORS, ids=lambda c: c.__name__)
def test_every_error_is_an_altair_error_with_a_builtin_parent(cls):
    assert issubclass(cls, AltairError)
    if cls is not AltairError:
        assert issubclass(cls, BUILTIN), f'{cls.__name__} has no built-in parent to catch it by'


def _instance(cls, message: str):
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    if cls.__init__ is not BaseException.__init__ and params and params[0] != 'args':
        return cls(message), None  # a custom constructor builds its own message
    return cls(message), message


@pytest.mark.parametrize('cls', ERRORS, ids=lambda c: c.__name__)
def test_the_cli_prints_each_as_one_line(cls, capsys):
    from altair.cli import run_tool
    exc, message = _instance(cls, "model.decode_head.type 'X' is not registered")

    def fail():
        raise exc
    status = run_tool(fail)
    err = capsys.readouterr().err
    assert status == (1 if cls.__name__ in FAILURES else 2)
    assert err.count('\n') == 1 and err.startswith('error: ') and 'Traceback' not in err
    assert err == f'error: {message or exc}\n'  # KeyError ones unquoted too
