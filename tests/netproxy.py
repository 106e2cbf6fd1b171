"""A TCP proxy for tests that cut a connection: to the database mid-apply, say.

``Proxy(("127.0.0.1", 5432))`` listens on a free port of 127.0.0.1 and
forwards every connection to the target, a thread per direction. ``cut()``
drops every open connection at once (both ends see a reset) and refuses new
ones until ``mend()``; ``connections`` counts those made so far.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Self


class Proxy:
    """Forward 127.0.0.1:``port`` to ``target`` until cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut = False
        self._closed = False
        self._accepting = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        """Drop every open connection, and refuse new ones until ``mend``."""
        with self._lock:
            self._cut = True
            dropping, self._open = self._open, set()
        for connection in dropping:
            _reset(connection)

    def mend(self) -> None:
        """Accept and forward connections again."""
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread waiting in accept()
        self.listener.close()
        self._accepting.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                refused = self._cut
                if not refused:
                    self.connections += 1
            if refused:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with self._lock:
            self._open -= {source, sink}
        _reset(source)
        _reset(sink)


def _reset(connection: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), as a dropped network path looks to both ends.

    ``shutdown(SHUT_RD)`` first wakes the thread blocked reading it, which a
    close from another thread does not.
    """
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        connection.close()
