"""Querysets compiled to SQL once, then run with new values: the chat path's reads.

Building a queryset and compiling it costs more Python than running it: for the endpoint's
authentication statement (an agent with its tenant, published version and API key), about
half of the CPU of the whole request went to `filter()`, `select_related()` and the
compiler. A request that is the same shape every time need not pay it every time.

`PreparedQuery(build)` takes a function that builds the queryset from *placeholders*
(`build(p, **shape)`, where `p.name` stands for a value given at run time). On first use per
database alias and shape, it builds the queryset with unique sentinel values in place of
the placeholders, compiles it, and keeps the SQL and, for each parameter of the SQL, either
the name of the placeholder it came from or the constant it is. Each run then sends the kept
SQL with the values bound in order, through Django's cursor (so query logging, the
execute wrappers that tests count statements with, and the connection's health rules all
apply), and turns the rows into what the queryset would have returned, with the same
compiler's converters (JSON fields, aware datetimes): model instances with their
`select_related` objects and annotations (`objects()`), or tuples (`rows()`).

It is still the ORM: one code path for SQLite and PostgreSQL, the tenant scoping of the
queryset included (a prepared queryset on a tenant-owned model is built with
`for_tenant(p.tenant_id)`, and the tenant is a value like any other).

Rules for a prepared queryset:

* a placeholder that `build` uses must reach the SQL unchanged: an `exact` comparison, a
  subquery's filter. Not inside `__in`, `__contains` or a transform, which
  would rewrite it (the compile fails loudly if a placeholder cannot be found among the
  parameters);
* what changes the SQL's text (a LIMIT, the ordering, whether a filter is there at all) is
  part of the *shape*: a keyword of `build`, and a separate compiled statement per value.
  Shapes should be few (a bounded cache keeps at most `MAX_SHAPES` per query).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections, models
from django.db.models.query import get_related_populators
from django.db.models.sql.compiler import SQLCompiler

__all__ = ["MAX_SHAPES", "Placeholders", "PreparedQuery"]

MAX_SHAPES = 64

_M = TypeVar("_M", bound=models.Model)

# Sentinels nobody would store: strings with a private-use character, ints far beyond any
# id (positive, since `for_tenant` refuses anything else).
_counter = itertools.count(1)


class Placeholders:
    """What `build` receives: each attribute is a sentinel standing for a run-time value."""

    def __init__(self, kinds: dict[str, type]) -> None:
        self._sentinels: dict[str, Any] = {}
        self._used: set[str] = set()
        for name, kind in kinds.items():
            serial = next(_counter)
            if kind is int:
                value: Any = 7_919_000_000_000 + serial
            elif kind is str:
                value = f"\ue000prepared:{name}:{serial}\ue000"
            else:
                raise TypeError(f"placeholder {name!r}: only int and str values can be prepared")
            self._sentinels[name] = value

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._sentinels[name]
        except KeyError:
            raise AttributeError(f"no placeholder named {name!r}") from None
        self._used.add(name)
        return value


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # For each SQL parameter: (placeholder name, None) or (None, constant).
    slots: tuple[tuple[str | None, Any], ...]
    compiler: SQLCompiler
    converters: dict[int, Any]
    col_count: int
    trim: bool

    def params(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] if name is not None else constant for name, constant in self.slots]


class PreparedQuery(Generic[_M]):
    """A queryset shape compiled once per database alias and shape (see the module doc)."""

    def __init__(self, build: Callable[..., models.QuerySet[_M, Any]], **kinds: type) -> None:
        self._build = build
        self._kinds = kinds
        self._cache: OrderedDict[Hashable, _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def _compiled(self, using: str, shape: dict[str, Hashable]) -> _Compiled:
        key = (using, tuple(sorted(shape.items())))
        compiled = self._cache.get(key)
        if compiled is not None:
            return compiled
        placeholders = Placeholders(self._kinds)
        queryset = self._build(placeholders, **shape)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        names = {value: name for name, value in placeholders._sentinels.items()}
        slots = tuple(
            (names[param], None) if _is_sentinel(param, names) else (None, param)
            for param in params
        )
        missing = placeholders._used - {name for name, _ in slots if name is not None}
        if missing:
            raise ValueError(
                f"placeholders {sorted(missing)} do not reach the SQL unchanged; "
                "make what they change part of the shape"
            )
        fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
        compiled = _Compiled(
            sql=sql,
            slots=slots,
            compiler=compiler,
            converters=compiler.get_converters(fields),
            col_count=compiler.col_count,
            trim=bool(compiler.has_extra_select),
        )
        with self._lock:
            self._cache[key] = compiled
            while len(self._cache) > MAX_SHAPES:
                self._cache.popitem(last=False)
        return compiled

    def _fetch(self, compiled: _Compiled, using: str, values: dict[str, Any]) -> list[Any]:
        # This thread's connection: Django's connections are per thread, and the compiler
        # kept from the first run may belong to another.
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.params(values))
            fetched: list[Any] = cursor.fetchall()
        if compiled.trim:
            fetched = [row[: compiled.col_count] for row in fetched]
        if not compiled.converters:
            return fetched
        converters = list(compiled.converters.items())
        rows = []
        for fetched_row in fetched:
            row = list(fetched_row)
            for position, (functions, expression) in converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
            rows.append(row)
        return rows

    def rows(
        self, *, using: str = "default", shape: dict[str, Hashable] | None = None, **values: Any
    ) -> list[tuple[Any, ...]]:
        """Run a `values_list()` queryset; return its rows as tuples."""
        compiled = self._compiled(using, shape or {})
        return [tuple(row) for row in self._fetch(compiled, using, values)]

    def objects(
        self, *, using: str = "default", shape: dict[str, Hashable] | None = None, **values: Any
    ) -> list[_M]:
        """Run a model queryset; return its instances, related objects and annotations set."""
        compiled = self._compiled(using, shape or {})
        compiler = compiled.compiler
        select, klass_info = compiler.select, compiler.klass_info
        annotations = compiler.annotation_col_map
        assert klass_info is not None, "objects() needs a model queryset, not values()"
        model = klass_info["model"]
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        # Django 5.2 takes three arguments; the stubs follow a later release.
        populators = get_related_populators(klass_info, select, using)  # type: ignore[call-arg]
        found: list[_M] = []
        for row in self._fetch(compiled, using, values):
            obj = model.from_db(using, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in (annotations or {}).items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found


def _is_sentinel(param: Any, names: dict[Any, str]) -> bool:
    # bool is an int: never take True/False for a sentinel.
    return isinstance(param, int | str) and not isinstance(param, bool) and param in names
