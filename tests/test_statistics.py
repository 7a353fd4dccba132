"""The query planner's statistics are refreshed after migrate and by every sweep."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadflow.sweeps import run_sweeps
from tests.factories import make_lead, make_project


def test_sweep_refreshes_sqlite_statistics_and_leaves_postgresql_to_autovacuum():
    make_lead(make_project())

    with CaptureQueriesContext(connection) as queries:
        run_sweeps()

    analyzed = [q["sql"] for q in queries if q["sql"].startswith(("ANALYZE", "PRAGMA analysis"))]
    if connection.vendor == "sqlite":
        assert analyzed == ["PRAGMA analysis_limit=400", "ANALYZE"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'crm_lead'")
            assert cursor.fetchone()[0] > 0
    else:
        assert analyzed == []
