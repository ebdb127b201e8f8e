"""URLs of /api/v1/ (mounted in chatkit_platform/urls.py): the API, then a JSON 404."""

from django.urls import path, re_path

from chatkit_endpoints.openai_api.errors import unknown_url
from management_api.api import api

urlpatterns = [
    path("", api.urls),
    re_path(r"", unknown_url),
]
