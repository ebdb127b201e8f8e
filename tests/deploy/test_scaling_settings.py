"""Settings that only matter once several processes share Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from channels_redis.core import RedisChannelLayer

ROOT = Path(__file__).resolve().parents[2]
PRINT_LAYER = (
    "import json; from django.conf import settings; "
    "print(json.dumps(settings.CHANNEL_LAYERS['default']['CONFIG']['hosts']))"
)


def test_the_channel_layer_reads_longer_than_its_blocking_receive(tmp_path: Path) -> None:
    # A read timeout at or under the blocking receive's drops connections (and messages)
    # whenever a channel stays quiet on a busy host. The settings alone are read: no Redis.
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/9",
           "PLATFORM_DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "chatkit_platform.settings"}  # fmt: skip
    command = [sys.executable, "-c", f"import django; django.setup(); {PRINT_LAYER}"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=True)  # fmt: skip

    [host] = json.loads(result.stdout.strip().splitlines()[-1])

    assert host["address"] == "redis://127.0.0.1:6379/9"
    assert host["socket_timeout"] > 2 * RedisChannelLayer.brpop_timeout
