"""The embedded file broker never hands a consumer a message that is not written yet."""

import threading
from pathlib import Path
from queue import Empty
from typing import Any

from kombu import Connection

MESSAGES = 3000
TRANSPORT = "chatkit_platform.file_broker:Transport"


def _options(folder: Path) -> dict[str, object]:
    return {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "store_processed": False,
        "polling_interval": 0,
    }


def test_the_embedded_broker_uses_the_whole_message_transport(settings: Any) -> None:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert settings.CELERY_BROKER_TRANSPORT == TRANSPORT
    else:
        assert not hasattr(settings, "CELERY_BROKER_TRANSPORT")


def test_a_consumer_racing_the_writer_gets_every_message_whole(tmp_path: Path) -> None:
    transport = TRANSPORT
    received: list[object] = []
    errors: list[Exception] = []

    def consume() -> None:
        with Connection(
            "filesystem://", transport=transport, transport_options=_options(tmp_path)
        ) as conn:
            channel = conn.default_channel
            while len(received) + len(errors) < MESSAGES:
                try:
                    received.append(channel._get("race"))
                except Empty:
                    continue
                except Exception as error:  # kombu's own writer: an empty file, a JSON error
                    errors.append(error)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    with Connection(
        "filesystem://", transport=transport, transport_options=_options(tmp_path)
    ) as conn:
        for number in range(MESSAGES):
            conn.default_channel._put("race", {"number": number, "padding": "x" * 2000})
    consumer.join(timeout=120)

    assert errors == []
    assert sorted(message["number"] for message in received) == list(range(MESSAGES))  # type: ignore[index]
