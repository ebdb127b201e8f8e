from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from chatkit_platform import health

urlpatterns = [
    # The front page sends people where they sign in: the admin until the console exists.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("v1/chatkit/", include("chatkit_endpoints.openai_api.urls")),
    path("api/v1/", include("management_api.urls")),
]
