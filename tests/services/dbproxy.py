"""A TCP proxy on loopback that can cut a database off and bring it back.

Services under test talk to MariaDB or PostgreSQL through it; `block()`
resets every open connection and turns new ones away, as a database
restart does, until `unblock()`. `stall()` holds every byte in both
directions without closing anything, as a network partition does,
until `resume()`.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class Proxy:
    """Forwards 127.0.0.1:port to (host, port) of the real server."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.blocked = threading.Event()
        self.flowing = threading.Event()
        self.flowing.set()
        self.accepted = 0
        self.turned_away = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.blocked.is_set():
                self.turned_away += 1
                _reset(client)
                continue
            self.flowing.wait()
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            self.accepted += 1
            with self._lock:
                self._open.update((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(src, dst), daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def block(self) -> None:
        """Reset every open connection and refuse new ones."""
        self.blocked.set()
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _reset(sock)

    def unblock(self) -> None:
        self.blocked.clear()

    def stall(self) -> None:
        """Hold every byte from now on; close nothing."""
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self._closed = True
        self.resume()
        self.block()
        self.listener.close()


def _reset(sock: socket.socket) -> None:
    """Close with an RST, as a dead server or a cut network looks."""
    with contextlib.suppress(OSError):
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
    with contextlib.suppress(OSError):
        sock.close()
