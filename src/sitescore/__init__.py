"""sitescore: rank US federal land for large high-tech industrial parks."""

__version__ = "0.1.0"
