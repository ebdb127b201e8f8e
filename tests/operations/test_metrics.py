"""/metrics access rules, the queue depth from the broker, and the database error count."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from celery import current_app
from django.db import DatabaseError, connection
from django.test import Client

from operations.metrics import DATABASE_ERRORS, queue_depths
from tests.support.celery_worker import purge_queue


@pytest.fixture
def client() -> Client:
    return Client()


def test_metrics_are_open_to_loopback_by_default(client: Client) -> None:
    answer = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert answer.status_code == 200
    assert b"# TYPE chatkit_http_requests_total counter" in answer.content
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_another_address_is_refused_with_the_json_error(client: Client) -> None:
    answer = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


def test_the_allowlist_replaces_loopback(client: Client, settings: Any) -> None:
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_the_token_opens_metrics_from_anywhere(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = "scrape-secret-123"
    good = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-secret-123"
    )
    assert good.status_code == 200
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    # A wrong token is refused even from an allowed address: it says who it claims to be.
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer nope"
        ).status_code
        == 403
    )
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_the_queue_depth_is_read_from_the_broker(settings: Any) -> None:
    queue = f"depth_probe_{id(settings)}"
    settings.CELERY_LONG_TOOL_QUEUE = queue
    try:
        assert queue_depths()[queue] == 0
        for _ in range(3):
            current_app.send_task("operations.tests.never_run", queue=queue)
        assert queue_depths()[queue] == 3
    finally:
        purge_queue(queue)


@pytest.mark.django_db
def test_a_failed_statement_is_counted() -> None:
    series = DATABASE_ERRORS.labels(connection.vendor)
    before = series._value.get()
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_here")
    assert series._value.get() == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_reconnection_does_not_count_errors_twice() -> None:
    connection.close()
    connection.ensure_connection()
    connection.close()
    connection.ensure_connection()
    series = DATABASE_ERRORS.labels(connection.vendor)
    before = series._value.get()
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_either")
    assert series._value.get() == before + 1
