"""Operating the platform: JSON logs with request ids, Prometheus metrics, optional tracing.

An interface-side app: it owns no tables and no rules. `context` holds the ids a log line
carries (request, tenant, agent, run); `logs` formats records; `metrics` declares the
Prometheus series and serves `/metrics`; `celery_context` carries the ids into tasks.
"""
