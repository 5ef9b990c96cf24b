"""SMDH: the Smart Manufacturing Data Hub."""

__version__ = "0.1.0"
