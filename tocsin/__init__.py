"""Tocsin: incident management from first alert to the last follow-up action."""

__version__ = "0.1.0"
