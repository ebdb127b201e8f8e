"""The records sections of the console: threads, usage and the audit log.

Included under /console/<tenant>/ by console/urls.py, in the `console` namespace. A thread
is named by its public id, the URL argument `thread`.
"""

from django.urls import URLPattern, URLResolver, path

from console.views import audit, threads, usage

urlpatterns: list[URLPattern | URLResolver] = [
    path("threads/", threads.thread_list, name="threads"),
    path("threads/export", threads.threads_export, name="threads_export"),
    path("threads/<str:thread>/", threads.thread_detail, name="thread"),
    path("threads/<str:thread>/export", threads.thread_export, name="thread_export"),
    path("threads/<str:thread>/delete", threads.thread_delete, name="thread_delete"),
    path("usage/", usage.usage, name="usage"),
    path("audit/", audit.audit_log, name="audit"),
    path("audit/export", audit.audit_export, name="audit_export"),
]
