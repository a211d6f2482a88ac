"""Errors as JSON answers: a clear ``detail``, the right status, and never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from latepay.api.champion import ModelUnavailableError
from latepay.errors import ConflictError, InputError, LatepayError, NotFoundError

logger = logging.getLogger(__name__)

STATUS_OF = {
    InputError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    ModelUnavailableError: 503,
}


def install_error_handlers(app: FastAPI) -> None:
    async def known(request: Request, error: Exception) -> JSONResponse:
        status = next((s for kind, s in STATUS_OF.items() if isinstance(error, kind)), 400)
        return JSONResponse({"detail": str(error)}, status_code=status)

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # The trace goes to the server log; the caller learns only that it was not their fault.
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "internal error; the server log has the details"}, status_code=500
        )

    app.add_exception_handler(LatepayError, known)
    app.add_exception_handler(ModelUnavailableError, known)
    app.add_exception_handler(Exception, unexpected)
