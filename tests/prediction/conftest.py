"""The Blue Marble cuts of the prediction tests (defined in tests/api/conftest.py)."""
from tests.api.conftest import crop, framed  # noqa: F401  (fixtures)
