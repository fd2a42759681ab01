"""Celery's embedded broker (kombu's filesystem transport) with messages written atomically.

kombu creates a message's file under its final name and then writes it, so a worker listing the
queue folder in between moves away an empty or half-written file and dies on its JSON
(`JSONDecodeError`; at ~20 publishes a second that took `make run` down within a minute). Here
the message is written under a name the consumers skip (it does not end in `.<queue>.msg`) and
renamed into place: `os.replace` is atomic within one folder, so a consumer sees the whole
message or nothing. Used whenever CELERY_BROKER_URL is `filesystem://` (settings.py).
"""

import contextlib
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu names the argument `payload` here and `message` in the base class.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
