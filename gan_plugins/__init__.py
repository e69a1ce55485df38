"""gan_plugins: adversarial models, losses, a generic trainer, data and metrics, extended through entry points.

Plugins register under the entry-point group ``specrep.gan_plugins``; the built-in ones register exactly like a
third-party distribution would (see ``pyproject.toml``).
"""
