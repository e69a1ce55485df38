"""The studio's HTTP API and page, as a WSGI application on Werkzeug (Pallets' WSGI toolkit).

Routes (every ``/api`` answer is JSON or a WAV file; every refusal is ``{"error": "..."}`` with a 4xx status):

==========================================  =====  =================================================================
``/``, ``/static/studio.js|studio.css``     GET    the page: bundled files read once at start, no CDN
``/api/info``                               GET    models, limits
``/api/directions?model=M``                 GET    GANSpace components (explained variance), computed once, cached
``/api/history?model=M``                    GET    the kept loops (oldest first)
``/api/draw``                               POST   ``{"model", "count": 1..8, "seed"?: 0..2**31-1}`` -> new loops
``/api/edit``                               POST   ``{"model", "base": id, "sliders": [<= k floats in +-range]}``
``/api/interpolate``                        POST   ``{"model", "a": id, "b": id, "t": 0..1}`` (slerp)
``/api/walk``                               POST   ``{"model", "entries": [2..8 ids], "step_seconds": 2..16}``
``/api/loop/<id>.wav?model=M``              GET    the loop's audio (the page plays this)
``/api/download?model=M&entry=ID&name=N``   GET    the same WAV as an attachment named ``N`` (``[A-Za-z0-9._-]``,
                                                   ending ``.wav``, no ``..``, at most 64 characters)
``/api/walk/<id>.wav?model=M``              GET    a rendered walk
==========================================  =====  =================================================================

``model`` may be omitted when the studio serves one model. Request bodies above :data:`MAX_BODY` bytes are refused
(413) before they are read. Nothing is read from or written to the file system while serving: downloads are
generated in memory, static files were read at start from the package.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from gan_plugins.apps.studio.state import ModelSession, StudioError, wav_bytes

__all__ = ["MAX_BODY", "MAX_DRAW", "MAX_WALK_ENTRIES", "StudioApp"]

MAX_BODY = 64 * 1024
MAX_DRAW = 8
MAX_WALK_ENTRIES = 8
STEP_SECONDS = (2.0, 16.0)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}\.wav$")
_STATIC = {"studio.js": "text/javascript; charset=utf-8", "studio.css": "text/css; charset=utf-8"}


def _read_static() -> dict[str, bytes]:
    folder = resources.files("gan_plugins.apps.studio") / "static"
    return {name: (folder / name).read_bytes() for name in ("index.html", *_STATIC)}


# ------------------------------------------------------------------------------------------------ validation
def _int(body: Mapping[str, Any], key: str, lo: int, hi: int, *, default: int | None = None,
         required: bool = True) -> int | None:
    if key not in body or body[key] is None:
        if default is not None or not required:
            return default
        raise StudioError(f"{key} is required (an integer in [{lo}, {hi}])")
    value = body[key]
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise StudioError(f"{key}={value!r} must be an integer in [{lo}, {hi}]")
    if not lo <= value <= hi:
        raise StudioError(f"{key}={value} is out of range [{lo}, {hi}]")
    return value


def _float(body: Mapping[str, Any], key: str, lo: float, hi: float, *, default: float | None = None) -> float:
    if key not in body or body[key] is None:
        if default is not None:
            return default
        raise StudioError(f"{key} is required (a number in [{lo:g}, {hi:g}])")
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StudioError(f"{key}={value!r} must be a finite number in [{lo:g}, {hi:g}]")
    if not lo <= value <= hi:
        raise StudioError(f"{key}={value:g} is out of range [{lo:g}, {hi:g}]")
    return float(value)


def _list(body: Mapping[str, Any], key: str, lo_len: int, hi_len: int) -> list:
    value = body.get(key)
    if not isinstance(value, list):
        raise StudioError(f"{key} must be a list of {lo_len} to {hi_len} items")
    if not lo_len <= len(value) <= hi_len:
        raise StudioError(f"{key} has {len(value)} items; give {lo_len} to {hi_len}")
    return value


class StudioApp:
    """WSGI application over one or more :class:`ModelSession` s (keyed by name, in the order given)."""

    def __init__(self, sessions: list[ModelSession]) -> None:
        if not sessions:
            raise StudioError("the studio needs at least one model")
        self.sessions = {s.name: s for s in sessions}
        if len(self.sessions) != len(sessions):
            raise StudioError("two models have the same name")
        self.static = _read_static()
        self.url_map = Map([
            Rule("/", endpoint="index", methods=["GET"]),
            Rule("/static/<name>", endpoint="static", methods=["GET"]),
            Rule("/api/info", endpoint="info", methods=["GET"]),
            Rule("/api/directions", endpoint="directions", methods=["GET"]),
            Rule("/api/history", endpoint="history", methods=["GET"]),
            Rule("/api/draw", endpoint="draw", methods=["POST"]),
            Rule("/api/edit", endpoint="edit", methods=["POST"]),
            Rule("/api/interpolate", endpoint="interpolate", methods=["POST"]),
            Rule("/api/walk", endpoint="walk", methods=["POST"]),
            Rule("/api/loop/<int:entry>.wav", endpoint="loop", methods=["GET"]),
            Rule("/api/download", endpoint="download", methods=["GET"]),
            Rule("/api/walk/<int:walk>.wav", endpoint="walk_audio", methods=["GET"]),
        ], strict_slashes=True)

    # ------------------------------------------------------------------------------------------------- helpers
    def _session(self, name: Any) -> ModelSession:
        if name is None or name == "":
            if len(self.sessions) == 1:
                return next(iter(self.sessions.values()))
            raise StudioError(f"model is required (one of {', '.join(self.sessions)})")
        if not isinstance(name, str) or name not in self.sessions:
            shown = name if isinstance(name, str) and len(name) <= 80 else f"{str(name)[:80]}..."
            raise StudioError(f"unknown model {shown!r}; this studio serves {', '.join(self.sessions)}", 404)
        return self.sessions[name]

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        length = request.content_length
        if length is None:
            raise StudioError("a JSON body is required (Content-Length missing)", 411)
        if length > MAX_BODY:
            raise StudioError(f"request body of {length} bytes is larger than {MAX_BODY}", 413)
        raw = request.get_data(cache=False)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StudioError(f"malformed JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise StudioError("the JSON body must be an object")
        return body

    @staticmethod
    def _json(obj: Any, status: int = 200) -> Response:
        return Response(json.dumps(obj), status=status, mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    @staticmethod
    def _wav(data: bytes, *, attachment: str | None = None) -> Response:
        headers = {"Cache-Control": "no-store"}
        if attachment:
            headers["Content-Disposition"] = f'attachment; filename="{attachment}"'
        return Response(data, mimetype="audio/wav", headers=headers)

    # ----------------------------------------------------------------------------------------------- endpoints
    def on_index(self, request: Request) -> Response:
        return Response(self.static["index.html"], mimetype="text/html; charset=utf-8")

    def on_static(self, request: Request, name: str) -> Response:
        if name not in _STATIC:  # a fixed set of bundled files: no path is ever built from the request
            raise StudioError(f"no static file {name[:80]!r}", 404)
        return Response(self.static[name], mimetype=_STATIC[name])

    def on_info(self, request: Request) -> Response:
        return self._json({"models": [s.info() for s in self.sessions.values()],
                           "limits": {"max_draw": MAX_DRAW, "max_walk_entries": MAX_WALK_ENTRIES,
                                      "step_seconds": list(STEP_SECONDS), "max_body": MAX_BODY}})

    def on_directions(self, request: Request) -> Response:
        session = self._session(request.args.get("model"))
        d = session.directions()
        return self._json({"model": session.name, "method": d.method, "explained": d.explained,
                           "slider_range": session.SLIDER_RANGE})

    def on_history(self, request: Request) -> Response:
        session = self._session(request.args.get("model"))
        return self._json({"model": session.name, "entries": [e.summary(session.name) for e in session.history()]})

    def on_draw(self, request: Request) -> Response:
        body = self._body(request)
        session = self._session(body.get("model"))
        count = _int(body, "count", 1, MAX_DRAW, default=1)
        seed = _int(body, "seed", 0, 2**31 - 1, required=False)
        return self._json({"entries": [e.summary(session.name) for e in session.draw(count, seed)]})

    def on_edit(self, request: Request) -> Response:
        body = self._body(request)
        session = self._session(body.get("model"))
        base = _int(body, "base", 1, 2**62)
        values = _list(body, "sliders", 1, session.n_components)
        r = session.SLIDER_RANGE
        sliders = [_float({"slider": v}, "slider", -r, r) for v in values]
        return self._json({"entry": session.edit(base, sliders).summary(session.name)})

    def on_interpolate(self, request: Request) -> Response:
        body = self._body(request)
        session = self._session(body.get("model"))
        a, b = _int(body, "a", 1, 2**62), _int(body, "b", 1, 2**62)
        t = _float(body, "t", 0.0, 1.0)
        return self._json({"entry": session.interpolate(a, b, t).summary(session.name)})

    def on_walk(self, request: Request) -> Response:
        body = self._body(request)
        session = self._session(body.get("model"))
        ids = [_int({"entry": v}, "entry", 1, 2**62) for v in _list(body, "entries", 2, MAX_WALK_ENTRIES)]
        step = _float(body, "step_seconds", *STEP_SECONDS, default=4.0)
        result = session.render_walk(ids, step)
        return self._json({"walk": result.id, "entries": result.entries, "seconds": result.seconds,
                           "url": f"/api/walk/{result.id}.wav?model={session.name}"})

    def on_loop(self, request: Request, entry: int) -> Response:
        session = self._session(request.args.get("model"))
        return self._wav(wav_bytes(session.entry(entry).wave, session.sample_rate))

    def on_download(self, request: Request) -> Response:
        session = self._session(request.args.get("model"))
        entry = _int(dict(request.args), "entry", 1, 2**62)
        name = request.args.get("name") or f"{session.name}-{entry}.wav"
        if not _NAME.fullmatch(name) or ".." in name:
            raise StudioError(f"download name {name[:80]!r} must be letters, digits, '.', '_' or '-' ending in "
                              ".wav (at most 64 characters, no '..' and no folders)")
        return self._wav(wav_bytes(session.entry(entry).wave, session.sample_rate), attachment=name)

    def on_walk_audio(self, request: Request, walk: int) -> Response:
        session = self._session(request.args.get("model"))
        return self._wav(wav_bytes(session.walk(walk).wave, session.sample_rate))

    # ------------------------------------------------------------------------------------------------- WSGI
    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
            return getattr(self, f"on_{endpoint}")(request, **values)
        except StudioError as exc:
            return self._json({"error": str(exc)}, exc.status)
        except NotFound:
            return self._json({"error": f"no such page {request.path[:80]!r}"}, 404)
        except MethodNotAllowed as exc:
            return self._json({"error": f"{request.method} is not allowed here (use {', '.join(exc.valid_methods)})"},
                              405)
        except HTTPException as exc:
            return self._json({"error": exc.description or exc.name}, exc.code or 400)

    def __call__(self, environ, start_response):
        return self.dispatch(Request(environ))(environ, start_response)
