"""Checks of the addresses people give for notifications, before anything is sent there."""

from __future__ import annotations


def apprise_understands(url: str) -> bool:
    """Whether Apprise knows this kind of URL and can parse it; nothing goes over the network."""
    import apprise  # imported on first use: it loads a plugin for every service it knows

    return bool(apprise.Apprise().add(url))
