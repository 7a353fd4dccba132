import pytest


@pytest.fixture(autouse=True)
def _db_for_all(db):
    """Every test may use the database; each runs in its own rolled-back transaction."""
