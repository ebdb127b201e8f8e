"""The records sections of the console: threads, usage and the audit log.

Included under /console/<tenant>/ by console/urls.py, in the `console` namespace.
"""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
