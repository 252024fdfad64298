"""Sign-in, sign-out and password reset for staff (flask-login sessions).

Importing this package registers every route on `bp`.
"""
from app.auth import routes  # noqa: F401  (register the routes)
from app.auth.blueprint import bp

__all__ = ["bp"]
