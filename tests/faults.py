"""Real faults for tests: a loopback TCP proxy that can cut a service off and bring it back.

    with TcpProxy(target=("127.0.0.1", 5432)) as proxy:
        ... point DATABASE_URL at 127.0.0.1:{proxy.port} ...
        proxy.cut()      # every open connection closed, new ones refused (ECONNREFUSED)
        proxy.restore()  # the same port accepts and forwards again

Threads, not asyncio: the proxy must keep forwarding while the test thread blocks on the
database or an HTTP client.
"""

import contextlib
import socket
import threading
import time

_CHUNK = 65536


class TcpProxy:
    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._stopped = False
        self.accepted = 0  # connections forwarded, over the proxy's life
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.settimeout(0.05)  # so the loop notices cut() and close()
        return listener

    def cut(self) -> None:
        """Close every forwarded connection and stop listening: clients see their connection
        drop, and new connections are refused, as when the server goes down."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, set()
        if listener is not None:
            listener.close()
        for pair in pairs:
            for sock in pair:
                _kill(sock)

    def restore(self) -> None:
        """Listen on the same port again (nothing to do if it was not cut)."""
        if self._listener is not None:
            return
        deadline = time.monotonic() + 5
        while True:
            try:
                listener = self._listen(self.port)
                break
            except OSError:  # the old socket may linger for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with self._lock:
            self._listener = listener

    def close(self) -> None:
        self._stopped = True
        self.cut()
        self._thread.join(timeout=2)

    def _accept_loop(self) -> None:
        while not self._stopped:
            listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _kill(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is None:  # cut while connecting
                    _kill(client)
                    _kill(upstream)
                    continue
                self._pairs.add((client, upstream))
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _kill(source)
        _kill(sink)


def _kill(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
