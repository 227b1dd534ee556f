"""The comms settings a request runs with (the app's settings, for api.py and views.py)."""

from __future__ import annotations

from fastapi import Request

from tocsin.comms.cadence import Cadence


def cadence_of(request: Request) -> Cadence:
    return Cadence.parse(request.app.state.settings.update_cadence)


def base_url_of(request: Request) -> str:
    return request.app.state.settings.base_url
