"""GIN indexes for the console's thread search (tenants/selectors_threads.py, `_text_match`).

PostgreSQL only: full-text search of the items' JSON (string values only) and of the thread
titles, with the `simple` configuration. On SQLite the console searches by substring and
this migration does nothing. The expressions must stay those `_text_match` filters on.
"""

from django.db import migrations

from tenants.migration_operations import RunSQLOnPostgreSQL


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0007_merge_idempotency_keys"),
    ]

    operations = [
        RunSQLOnPostgreSQL(
            sql=(
                "CREATE INDEX thread_item_text_search ON tenants_threaditem"
                " USING gin (to_tsvector('simple'::regconfig, data))"
            ),
            reverse_sql="DROP INDEX IF EXISTS thread_item_text_search",
        ),
        RunSQLOnPostgreSQL(
            sql=(
                "CREATE INDEX thread_title_text_search ON tenants_thread"
                " USING gin (to_tsvector('simple'::regconfig, coalesce(title, '')))"
            ),
            reverse_sql="DROP INDEX IF EXISTS thread_title_text_search",
        ),
    ]
