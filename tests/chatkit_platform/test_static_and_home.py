"""The front page and static files, as a browser sees them under the ASGI server."""

import pytest
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)


async def test_front_page_redirects_to_where_people_sign_in() -> None:
    response = await AsyncClient().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/console/"


async def test_admin_stylesheet_is_served() -> None:
    response = await AsyncClient().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = b"".join(response.streaming_content)
    assert b"body" in body
