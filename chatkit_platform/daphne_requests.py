"""Under daphne: keep Twisted from parsing request bodies that daphne passes on untouched.

Twisted's `Request`, which daphne's request class extends, parses every POST that has a body
for `request.args` before handing it on: the Content-Type through the `email` package, then
a form-encoded or multipart body in full. Daphne never reads `args`; it gives the
application the raw body. So that parse is pure cost:

* about 7% of the web process's CPU for a ChatKit list request (the Content-Type alone;
  bench/endpoint_load.md);
* a multipart attachment upload parsed a second time, in memory, before the application's
  own parser sees it;
* a malformed multipart body answered by Twisted with a bare 400 page and a dropped
  connection, instead of reaching the application and its JSON errors.

Twisted lets a request opt out (its `parsePOSTFormSubmission` argument), but daphne creates
its requests without it. `daphne_body_parsing_skip()` makes daphne's request class answer
"no" to that question, whatever its constructor is given.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["daphne_body_parsing_skip"]


def _never(_request: Any) -> bool:
    return False


def _ignore(_request: Any, _value: bool) -> None:
    return None


def daphne_body_parsing_skip() -> bool:
    """Apply the opt-out if this process is a daphne server; return whether it is."""
    # Daphne imports its protocol module before it loads the application; under uvicorn, or
    # in a management command, it is not loaded and nothing is done.
    module = sys.modules.get("daphne.http_protocol")
    if module is None:
        return False
    # A data descriptor on the class wins over the instance attribute Twisted's
    # constructor sets.
    module.WebRequest._parsePOSTFormSubmission = property(_never, _ignore)
    return True
