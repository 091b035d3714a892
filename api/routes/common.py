"""Small helpers shared by the route modules."""

from __future__ import annotations

from fastapi import Request

from api.services import Services


def services(request: Request) -> Services:
    return request.app.state.services
