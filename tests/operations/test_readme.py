"""The README documents the operations' settings and commands."""

from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_configuration_table_lists_the_operations_settings() -> None:
    for name in ("LOG_FORMAT", "METRICS_ALLOWED_IPS", "METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR",
                 "OTEL_ENABLED", "RETENTION_BATCH_SIZE", "TENANT_DELETION_GRACE_DAYS",
                 "STUCK_RUN_AFTER_SECONDS"):  # fmt: skip
        assert f"| `{name}` |" in README, name


def test_the_commands_table_lists_export_and_deletion() -> None:
    for command in ("export_tenant", "delete_tenant", "cancel_tenant_deletion"):
        assert f"| `{command} <tenant>" in README, command


def test_the_readme_shows_a_scrape_and_a_json_line() -> None:
    assert 'chatkit_http_requests_total{method="POST"' in README
    assert '"request_id": "7f3c9a1e-demo", "tenant": "demo", "agent": "assistant"' in README
