"""``loopgan studio``: a local web app to explore a trained audio GAN by ear (draw, interpolate, GANSpace sliders,
history, WAV download, walks). :mod:`.state` holds the models and bounded history, :mod:`.app` the HTTP API and
the bundled page, :mod:`.server` loading and serving."""

from gan_plugins.apps.studio.server import StudioServer, load_sessions

__all__ = ["StudioServer", "load_sessions"]
