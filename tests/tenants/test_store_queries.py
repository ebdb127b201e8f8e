"""The store's hot paths are one SQL statement each, on SQLite and on PostgreSQL.

The async methods are called through `async_to_sync`, so the ORM runs on the test's thread
and `django_assert_num_queries` sees its queries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from chatkit_core.store import NotFoundError
from chatkit_core.types import ThreadMetadata, UserMessageItem
from hosted_agents.models import Agent
from tenants.models import Tenant
from tenants.store import DjangoStore

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _message(item_id: str, text: str = "hi", seconds: int = 0) -> UserMessageItem:
    return UserMessageItem.model_validate(
        {
            "id": item_id,
            "thread_id": "thr_1",
            "created_at": T0 + timedelta(seconds=seconds),
            "content": [{"type": "input_text", "text": text}],
            "inference_options": {},
        }
    )


@pytest.fixture(params=["tenant", "end_user"])
def store(request: pytest.FixtureRequest, acme: Tenant, acme_agent: Agent) -> DjangoStore[Any]:
    """A whole-tenant store and a narrowed one, each with a thread of three items."""
    if request.param == "tenant":
        store: DjangoStore[Any] = DjangoStore(acme)
    else:
        store = DjangoStore(acme, agent=acme_agent, end_user_id="victoria")
    sync = async_to_sync
    sync(store.save_thread)(ThreadMetadata(id="thr_1", created_at=T0), None)
    for index in range(3):
        sync(store.add_thread_item)("thr_1", _message(f"msg_{index}", seconds=index), None)
    return store


def test_adding_an_item_is_one_insert(store: DjangoStore[Any], django_assert_num_queries) -> None:
    with django_assert_num_queries(1) as captured:
        async_to_sync(store.add_thread_item)("thr_1", _message("msg_new", seconds=9), None)
    assert captured.captured_queries[0]["sql"].startswith("INSERT")
    page = async_to_sync(store.load_thread_items)("thr_1", None, 10, "asc", None)
    assert [item.id for item in page.data] == ["msg_0", "msg_1", "msg_2", "msg_new"]


def test_adding_an_item_whose_id_exists_replaces_it_in_the_same_one_statement(
    store: DjangoStore[Any], django_assert_num_queries
) -> None:
    with django_assert_num_queries(1):
        async_to_sync(store.add_thread_item)("thr_1", _message("msg_1", "again", 99), None)
    page = async_to_sync(store.load_thread_items)("thr_1", None, 10, "asc", None)
    assert [item.id for item in page.data] == ["msg_0", "msg_1", "msg_2"]  # kept its place
    assert page.data[1].content[0].text == "again"  # type: ignore[union-attr]


def test_saving_an_item_is_one_statement(
    store: DjangoStore[Any], django_assert_num_queries
) -> None:
    with django_assert_num_queries(1):
        async_to_sync(store.save_item)("thr_1", _message("msg_2", "edited", 2), None)
    with django_assert_num_queries(1):
        async_to_sync(store.save_item)("thr_1", _message("msg_3", "new", 3), None)
    loaded = async_to_sync(store.load_item)("thr_1", "msg_2", None)
    assert loaded.content[0].text == "edited"  # type: ignore[union-attr]


def test_an_item_for_a_missing_thread_is_refused_in_that_one_statement(
    store: DjangoStore[Any], django_assert_num_queries
) -> None:
    with django_assert_num_queries(1), pytest.raises(NotFoundError):
        async_to_sync(store.add_thread_item)("thr_missing", _message("msg_x"), None)


@pytest.mark.parametrize("after", [None, "msg_0", "msg_unknown"])
def test_a_page_of_items_is_one_query_whatever_its_cursor(
    after: str | None, store: DjangoStore[Any], django_assert_num_queries
) -> None:
    # An empty page (a stale cursor) adds one statement: is the thread there at all?
    with django_assert_num_queries(2 if after == "msg_unknown" else 1):
        page = async_to_sync(store.load_thread_items)("thr_1", after, 2, "asc", None)
    expected = {None: ["msg_0", "msg_1"], "msg_0": ["msg_1", "msg_2"], "msg_unknown": []}
    assert [item.id for item in page.data] == expected[after]


def test_finding_feedback_item_ids_is_one_query_however_many_ids(
    store: DjangoStore[Any], django_assert_num_queries
) -> None:
    asked = ["msg_2", *(f"msg_missing{n}" for n in range(98)), "msg_0"]
    with django_assert_num_queries(1):
        found = async_to_sync(store.find_item_ids)("thr_1", asked, None)
    assert found == ["msg_2", "msg_0"]
