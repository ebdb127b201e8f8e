from django.contrib import admin
from django.urls import include, path

from chatkit_platform import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("v1/chatkit/", include("chatkit_endpoints.openai_api.urls")),
    path("api/v1/", include("management_api.urls")),
]
