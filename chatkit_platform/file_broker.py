"""kombu's file broker (the embedded default), with messages that appear whole.

kombu's writer creates a message file and fills it afterwards. A consumer that lists the
folder in between takes the empty file, fails to decode it, and its worker stops with an
"Unrecoverable error" (seen on a loaded machine). Here a message is written under a name
no consumer lists and renamed into place, which is atomic on one filesystem.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

__all__ = ["Transport"]


class Channel(filesystem.Channel):
    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put `message` onto `queue`."""
        # The name kombu gives; the consumers match `.<queue>.msg` exactly, so they skip
        # the `.part` file until it is renamed.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(message)))  # type: ignore[no-untyped-call]
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
