"""A gym's uploaded logo, served from the database (app/services/identity.py).

Its address names the image's digest, so the answer never changes: browsers, proxies and mail
clients' image proxies may keep it for a year (`immutable`). The media type is the one recorded when
the bytes were checked (PNG, JPEG or WebP), never guessed from the bytes again (`nosniff`, as on every
answer), and the file is shown inline, never offered as a download of another kind.
"""
from __future__ import annotations

from flask import Response, abort, request

from app.public.blueprint import bp
from app.services.errors import NotFound
from app.services.identity import LOGO_EXTENSIONS, get_logo

ONE_YEAR = 365 * 24 * 3600


@bp.get("/logo/<org_id>/<digest>.<ext>")
def org_logo(org_id: str, digest: str, ext: str):
    try:
        logo = get_logo(org_id, digest)
    except NotFound:
        abort(404)
    if LOGO_EXTENSIONS[logo.content_type] != ext:
        abort(404)
    response = Response(logo.data, mimetype=logo.content_type)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response.headers["Content-Disposition"] = f'inline; filename="logo.{ext}"'
    response.set_etag(logo.digest)
    return response.make_conditional(request)
