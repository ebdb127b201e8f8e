"""Run two service calls against each other, each on its own database connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction


def race(first: Callable[[], Any], second: Callable[[], Any], hold: float = 1.0) -> list[Any]:
    """Return the outcomes (a value or the exception) of `first` and `second`.

    `first` runs in a transaction that stays open for `hold` seconds after it returns;
    `second` starts once `first` has returned, so it meets `first`'s uncommitted writes
    and locks. The test needs `django_db(transaction=True)`: each thread commits for real.
    """
    outcomes: list[Any] = [None, None]
    first_done = threading.Event()

    def run(index: int, call: Callable[[], Any], keep_open: bool) -> None:
        try:
            if keep_open:
                with transaction.atomic():
                    outcomes[index] = call()
                    first_done.set()
                    time.sleep(hold)
            else:
                first_done.wait(timeout=30)
                outcomes[index] = call()
        except Exception as error:  # the outcome is what the test checks
            outcomes[index] = error
        finally:
            first_done.set()
            connection.close()

    threads = [
        threading.Thread(target=run, args=(0, first, True)),
        threading.Thread(target=run, args=(1, second, False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes
