"""Atlas Booking: the application factory."""
from __future__ import annotations

import logging
import uuid
from pathlib import Path

from flask import Flask

from app.config import INSTANCE_DIR, Config, check_secret_key, rate_limit_problem

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the app: configuration from the environment, overridden by `config` (tests pass theirs).

    The factory imports the blueprints, jobs and CLI inside itself (as Flask's tutorial does), so
    that importing one module of the package — the models for a migration, a service in a script —
    does not load every blueprint with it."""
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(Config().as_dict())
    if config:
        app.config.from_mapping(config)
    check_secret_key(app.config)
    problem = rate_limit_problem(app.config)
    if problem:
        logging.getLogger("app").warning("%s.", problem[:1].upper() + problem[1:])
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    _configure_logging(app)
    _init_extensions(app)
    from app import guards

    guards.init_app(app)  # before any blueprint's own checks: input no endpoint accepts
    from app import security

    security.init_app(app)  # the security headers of every response
    _register_blueprints(app)

    from app.errors import register_error_handlers

    register_error_handlers(app)

    from app.cli import register_cli

    register_cli(app)

    from app.templating import register_template_helpers

    register_template_helpers(app)
    from app import jobs

    # How work submitted by services runs (RQ, a thread of this process, inline): app/jobs.py.
    jobs.init_app(app)
    return app


def _configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _init_extensions(app: Flask) -> None:
    from app import (
        database,  # noqa: F401  (registers the SQLite engine events)
        models,  # noqa: F401  (registers every table with the metadata)
    )
    from app.extensions import csrf, db, htmx, limiter, login_manager, mail, migrate
    from app.services.scheduling import versions as schedule_version  # noqa: F401  (raises the version on schedule changes)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    from app.services.scheduling import SlotCache

    app.extensions["slot_cache"] = SlotCache()
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(identity: str):
        """The user a session or remember-me cookie names, if it is still theirs: the id and the
        session version they signed in under (a reset, a deactivation or signing out raises it)."""
        from app.models import User

        user_id, _, version = (identity or "").partition(".")
        try:
            user = db.session.get(User, uuid.UUID(user_id))
        except ValueError:
            return None
        if user is None or version != str(user.session_version or 0):
            return None
        return user


def _register_blueprints(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.dashboard import bp as dashboard_bp
    from app.public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
