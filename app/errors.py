"""Error responses: JSON under /api/, HTML pages elsewhere, never a stack trace to the client."""
from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db

log = logging.getLogger(__name__)

# Secrets that travel in URLs (manage links, password resets, unsubscribe links, ?token=): never written
# to a log as they are.
_SECRET_IN_URL = re.compile(r"(/booking/manage/|/m/|/auth/reset/|/api/notifications/unsubscribe/)[^/?#\s\"']+"
                            r"|([?&]token=)[^&#\s\"']+")


def scrub(text: str) -> str:
    """`text` (a path, a URL, a log line) with the secrets URLs carry replaced by "…"."""
    return _SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "…", text)


class ScrubSecrets(logging.Filter):
    """A logging filter: request lines (the development server's, gunicorn's access log) lose the
    secrets in their URLs before they are written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

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
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubSecrets) for f in logger.filters):
            logger.addFilter(ScrubSecrets())

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
        log.exception("unhandled error on %s %s", request.method, scrub(request.path))
        return handle_http(InternalServerError())
