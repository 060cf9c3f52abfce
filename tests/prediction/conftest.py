"""The Blue Marble cuts of the prediction tests (defined in tests/api/conftest.py)."""
from tests.api.conftest import crop, framed  # noqa: F401  (fixtures)
from tests.volume_fixtures import volume_model  # noqa: F401  (fixture)
