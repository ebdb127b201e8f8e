"""Prepared statements that a schema change made stale: run again unprepared, then reconnect.

With `DATABASE_PREPARED_STATEMENTS` on, psycopg prepares the statements a connection
repeats. A migration that changes the type of a column while web processes run (an expand
migration may widen one, `varchar(100)` to `varchar(200)`: deploy/README.md) makes
PostgreSQL refuse every prepared statement whose result has that column, with "cached plan
must not change result type" (SQLSTATE 0A000). It refuses it at each execution, for as long
as the connection lasts, and psycopg leaves the remedy to the application. Without one, a
rolling update could fail the endpoints' requests for up to `DATABASE_CONN_MAX_AGE`.

So every statement of such a connection goes through `_recover`. On that error:

* the connection is marked to close at the next `close_old_connections()` (the end of the
  ORM hop, of the request or of the Celery task), and its prepared statements go with it;
* outside a transaction, the statement runs once more, unprepared, on the same cursor, and
  the caller gets its rows as if nothing had happened;
* inside a transaction the error has aborted it, so it is raised. The rollback that follows
  also makes psycopg forget its prepared statements.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import NotSupportedError
from django.db.backends.signals import connection_created

__all__ = ["STALE_PLAN", "connect_stale_plan_recovery"]

logger = logging.getLogger(__name__)

STALE_PLAN = "cached plan must not change result type"
_FEATURE_NOT_SUPPORTED = "0A000"


def _is_stale_plan(error: NotSupportedError) -> bool:
    cause = error.__cause__
    return getattr(cause, "sqlstate", None) == _FEATURE_NOT_SUPPORTED and STALE_PLAN in str(cause)


def _recover(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    try:
        return execute(sql, params, many, context)
    except NotSupportedError as error:
        if not _is_stale_plan(error):
            raise
        connection = context["connection"]
        # Closed by the next close_old_connections(), whatever CONN_MAX_AGE says.
        connection.close_at = 0.0
        if many or connection.in_atomic_block or not connection.get_autocommit():
            logger.warning("A prepared statement went stale after a schema change: %s", sql)
            raise
        logger.warning(
            "A prepared statement went stale after a schema change; ran it unprepared and "
            "the connection will be replaced: %s",
            sql,
        )
        with connection.wrap_database_errors:
            return context["cursor"].cursor.execute(sql, params, prepare=False)


def _on_connection_created(sender: Any, connection: Any, **_: Any) -> None:
    if connection.vendor != "postgresql":
        return
    if connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold") is None:
        return  # DATABASE_PREPARED_STATEMENTS off: nothing is prepared
    # The signal comes at every (re)connection of the same wrapper object: install it once.
    if not getattr(connection, "_chatkit_recovers_stale_plans", False):
        connection.execute_wrappers.append(_recover)
        connection._chatkit_recovers_stale_plans = True


def connect_stale_plan_recovery() -> None:
    connection_created.connect(_on_connection_created, dispatch_uid="ckp_stale_plans")
