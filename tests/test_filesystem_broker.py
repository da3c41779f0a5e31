"""The embedded default's broker (segflow.filesystem_broker): a worker reading the queue
folder while messages are being written never takes a partial message."""

import threading
from queue import Empty

from kombu import Connection

from segflow.filesystem_broker import Transport

MESSAGES = 1500


def _connection(folder) -> Connection:
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    return Connection("filesystem://localhost//", transport=Transport, transport_options=options)


def test_a_reader_racing_the_writer_gets_every_message_whole(tmp_path):
    # given a reader taking files from the folder as fast as it can
    received: list[dict] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        channel = _connection(tmp_path).default_channel
        try:
            while not done.is_set() or channel._size("tasks"):
                try:
                    received.append(channel._get("tasks"))
                except Empty:
                    continue
        except BaseException as exc:  # the failure kombu's own _put can cause
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()

    # when messages are written meanwhile
    channel = _connection(tmp_path).default_channel
    for number in range(MESSAGES):
        channel._put("tasks", {"body": "x" * 2000, "number": number})
    done.set()
    reader.join(timeout=60)

    # then each arrived once and whole
    assert errors == []
    assert sorted(message["number"] for message in received) == list(range(MESSAGES))
    assert not list(tmp_path.glob("*.part"))
