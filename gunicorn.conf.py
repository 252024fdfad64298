"""gunicorn's settings for Atlas Booking. gunicorn reads ./gunicorn.conf.py from the directory it
starts in (the README's command runs from the project root); pass `-c gunicorn.conf.py` otherwise.

Settings on the command line (`--workers 4`, `--bind …`) still win; this file only adds hooks.
"""
import os


def on_starting(server):
    """Tell the app how many web processes there are (the master runs this before forking them, so
    each inherits it): without REDIS_URL, rate limits are counted per process, which the app then
    says at start-up and in the self-test (`rate_limits`: degraded)."""
    os.environ["ATLAS_WEB_WORKERS"] = str(server.cfg.workers)
