"""Error responses: JSON under /api/, HTML pages elsewhere, never a stack trace to the client."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db

log = logging.getLogger(__name__)

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def api_error(status: int, code: str, message: str, **extra):
    """The one JSON error shape: {"success": false, "error": {"code", "message", ...}}."""
    body = {"success": False, "error": {"code": code, "message": message, **extra}}
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        status = exc.code or 500
        if status >= 500:
            db.session.rollback()
        if wants_json():
            response, status = api_error(status, ERROR_CODES.get(status, "error"), exc.description or exc.name)
            if status == 429 and exc.get_response().headers.get("Retry-After"):
                response.headers["Retry-After"] = exc.get_response().headers["Retry-After"]
            return response, status
        response = app.make_response(
            (render_template("errors/error.html", status=status, title=exc.name, message=exc.description), status)
        )
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        # Roll back first: the session may be in a failed state and the error page may query.
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return handle_http(InternalServerError())
