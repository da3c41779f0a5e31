"""kombu's filesystem transport (the embedded default's broker) with atomic message files.

kombu creates a message file and then writes into it; a worker listing the folder in between
takes the empty file, fails to decode it and dies. Here each message is written under a name
no reader picks (no ".<queue>.msg" suffix) and renamed into place, which is atomic within a
folder, so a reader sees a whole message or none. Selected by CELERY_BROKER_TRANSPORT.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # The name kombu's reader orders and matches: "<ms>_<uuid>.<queue>.msg".
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"{uuid.uuid4()}.part")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
