"""Public pages: the front page, /healthz, branded booking pages, class timetables, manage pages and the
booking assistant.

Importing this package registers every route on `bp`.
"""
from app.public import assistant, classes, logo, routes  # noqa: F401  (register the routes)
from app.public.blueprint import bp

__all__ = ["bp"]
