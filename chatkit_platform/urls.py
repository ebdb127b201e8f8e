from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from chatkit_platform import health
from operations.metrics import metrics_view

urlpatterns = [
    # The front page sends people where they sign in: the console.
    path("", RedirectView.as_view(pattern_name="console:index"), name="home"),
    path("console/", include("console.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("v1/chatkit/", include("chatkit_endpoints.openai_api.urls")),
    path("api/v1/", include("management_api.urls")),
]
