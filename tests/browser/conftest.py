import pytest


@pytest.fixture(autouse=True)
def _db_for_all(transactional_db):
    """Live-server tests need committed rows: the server thread reads them through its own
    connection, so these tests truncate tables instead of rolling back."""
