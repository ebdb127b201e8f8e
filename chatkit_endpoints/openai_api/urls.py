"""URLs of /v1/chatkit/ (mounted in chatkit_platform/urls.py): the API, then a JSON 404."""

from django.urls import path, re_path

from chatkit_endpoints.openai_api.api import api
from chatkit_endpoints.openai_api.errors import unknown_url

urlpatterns = [
    path("", api.urls),
    re_path(r"", unknown_url),
]
