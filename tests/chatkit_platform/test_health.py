import pytest
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)


async def test_healthz_answers_ok() -> None:
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_every_part_ready() -> None:
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "channel_layer": "ok", "broker": "ok"}


async def test_readyz_names_the_failing_broker(settings) -> None:
    from chatkit_platform.celery import app

    previous = app.conf.broker_url, app.conf.broker_transport
    # Nothing listens on port 1: the broker check must fail, quickly and by name. (The
    # transport follows the URL; the embedded broker names its own.)
    app.conf.broker_url, app.conf.broker_transport = "redis://127.0.0.1:1/0", None
    try:
        response = await AsyncClient().get("/readyz")
    finally:
        app.conf.broker_url, app.conf.broker_transport = previous
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"
