"""The package's version, in a module of its own: what imports it (the HTTP User-Agent, ``--version``,
hatch's build) loads nothing else of the package."""

__version__ = "0.1.0"
