"""The console's thread search (tenants/selectors_threads.py, `_text_match`), on PostgreSQL.

PostgreSQL only; on SQLite the console searches by substring and this migration does
nothing. Full-text search with the `simple` configuration (no stemming):

* `tenants_threaditem.search_words`: a stored generated column, the words of the item's
  JSON (its string values), so that no query computes them again (about 20 us an item);
  unknown to the model, as the database fills it. Adding it rewrites the table once.
* a GIN index on (tenant_id, search_words), with btree_gin for the tenant column;
* a GIN index on (tenant_id, the words of the thread's title);
* finer statistics on both word columns.

The expressions must stay those `_text_match` filters on, or the planner cannot use them.
"""

from django.db import migrations

from tenants.migration_operations import RunSQLOnPostgreSQL


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0007_merge_idempotency_keys"),
    ]

    operations = [
        # A trusted extension (PostgreSQL 13+): the database owner may create it. Left in
        # place when migrating back (other objects may use it); nothing at all on SQLite,
        # where Django's BtreeGinExtension would still look for pg_extension going back.
        RunSQLOnPostgreSQL(
            sql="CREATE EXTENSION IF NOT EXISTS btree_gin",
            reverse_sql=migrations.RunSQL.noop,
        ),
        RunSQLOnPostgreSQL(
            sql=(
                "ALTER TABLE tenants_threaditem ADD COLUMN search_words tsvector"
                " GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, data)) STORED"
            ),
            reverse_sql="ALTER TABLE tenants_threaditem DROP COLUMN search_words",
        ),
        RunSQLOnPostgreSQL(
            sql=(
                "CREATE INDEX thread_item_text_search ON tenants_threaditem"
                " USING gin (tenant_id, search_words)"
            ),
            reverse_sql="DROP INDEX IF EXISTS thread_item_text_search",
        ),
        RunSQLOnPostgreSQL(
            sql=(
                "CREATE INDEX thread_title_text_search ON tenants_thread"
                " USING gin (tenant_id, to_tsvector('simple'::regconfig, coalesce(title, '')))"
            ),
            reverse_sql="DROP INDEX IF EXISTS thread_title_text_search",
        ),
        # Finer word statistics: with the default, the planner guessed hundreds of matches
        # for a rare word and started parallel workers (tens of ms) to read one row.
        RunSQLOnPostgreSQL(
            sql=[
                "ALTER TABLE tenants_threaditem ALTER COLUMN search_words SET STATISTICS 1000",
                "ALTER INDEX thread_title_text_search ALTER COLUMN 2 SET STATISTICS 1000",
            ],
            reverse_sql=[
                "ALTER TABLE tenants_threaditem ALTER COLUMN search_words SET STATISTICS -1",
                "ALTER INDEX thread_title_text_search ALTER COLUMN 2 SET STATISTICS -1",
            ],
        ),
    ]
