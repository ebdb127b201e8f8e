"""The agents sections of the console: agents, their versions, tools and the playground.

Included under /console/<tenant>/ by console/urls.py, in the `console` namespace.
"""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
