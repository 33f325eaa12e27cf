"""edge: street violations from city cameras, turned into cases on the city platform."""

__version__ = "0.1.0"
