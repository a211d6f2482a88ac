"""The HTTP API: ``create_app`` builds it; ``latepay serve`` runs it with uvicorn."""

from latepay.api.app import create_app

__all__ = ["create_app"]
