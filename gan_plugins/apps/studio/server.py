"""Loading models into studio sessions and serving the app on a local port (Werkzeug's threaded WSGI server)."""

from __future__ import annotations

import ipaddress
import threading

import torch

from gan_plugins.apps.studio.app import StudioApp
from gan_plugins.apps.studio.state import ModelSession, StudioError

__all__ = ["MAX_MODELS", "StudioServer", "load_sessions"]

MAX_MODELS = 4


def load_sessions(refs: list[str], *, device: str | torch.device = "cpu", history_size: int = 64,
                  n_components: int = 8) -> list[ModelSession]:
    """One :class:`ModelSession` per bundled name, run folder or checkpoint in ``refs`` (at most
    :data:`MAX_MODELS`), each named after the bundled name or the run folder / checkpoint stem."""
    from gan_plugins.io.model import load_model

    if not 1 <= len(refs) <= MAX_MODELS:
        raise StudioError(f"give 1 to {MAX_MODELS} models, not {len(refs)}")
    sessions = []
    for ref in refs:
        model = load_model(ref, device=device)
        stat = model.path.stat()
        sessions.append(ModelSession(model.name, model, key=(str(model.path.resolve()), stat.st_size,
                                                             stat.st_mtime_ns),
                                     history_size=history_size, n_components=n_components))
    return sessions


class StudioServer:
    """The studio app served on ``host:port`` by a threaded Werkzeug server.

    ``port=0`` picks a free port (see :attr:`url`). A host that is not a loopback address must be asked for with
    ``allow_remote=True`` (the CLI's ``--host`` says so): the studio has no authentication.
    Use :meth:`start` (background thread) + :meth:`stop`, or :meth:`serve_forever`.
    """

    def __init__(self, sessions: list[ModelSession], *, host: str = "127.0.0.1", port: int = 0,
                 allow_remote: bool = False) -> None:
        from werkzeug.serving import make_server

        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise StudioError(f"port={port!r} must be an integer in [0, 65535]")
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            raise StudioError(f"host={host!r} must be an IP address or localhost") from None
        if not loopback and not allow_remote:
            raise StudioError(f"host={host} is not a loopback address; the studio has no authentication "
                              "(allow_remote=True to serve it anyway)")
        self.app = StudioApp(sessions)
        self._server = make_server(host, port, self.app, threaded=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = self._server.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}/"

    def start(self) -> StudioServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopgan-studio", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket (waits for the serving thread)."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
