"""Flask commands: `flask seed-demo` loads the spec's Atlas Fitness example; for cron, where no worker
or in-process dispatcher runs: `flask complete-bookings` marks ended bookings completed, `flask
promote-waitlists` (every few minutes) gives free class places to the first people waiting and closes
the waitlists of classes that have started, `flask extend-timetables` (daily) makes class sessions up
to the timetable's horizon."""
from __future__ import annotations

import click
from flask import Flask, current_app

from app.services import classes
from app.services.bookings import complete_past_bookings
from app.services.demo import seed_demo


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--password", envvar="DEMO_PASSWORD", default="atlas-demo", show_default=True,
                  help="Password for the demo logins (demo data only).")
    def seed_demo_command(password: str) -> None:
        """Create the Atlas Fitness demo (idempotent: a second run changes nothing)."""
        result = seed_demo(password=password)
        url = current_app.config["APP_URL"]
        click.echo(f"Demo organization: {result.org.name} ({result.org.slug}), {result.created} rows created.")
        click.echo(f"Portal:       {url}/")
        for slug in result.link_slugs:
            click.echo(f"Booking page: {url}/book/{slug}")
        click.echo(f"Owner login:  {result.owner_email} / {password}   (demo data only)")

    @app.cli.command("complete-bookings")
    def complete_bookings_command() -> None:
        """Mark every confirmed booking that has ended completed (idempotent; audited, no messages)."""
        click.echo(f"Ended bookings marked completed: {complete_past_bookings()}.")

    @app.cli.command("promote-waitlists")
    def promote_waitlists_command() -> None:
        """Promote waiting people into free class places; close the waitlists of classes that have started."""
        result = classes.promote_waitlists()
        click.echo(f"Promoted from waitlists: {result['promoted']}; waitlists closed: {result['waitlists_closed']}.")

    @app.cli.command("extend-timetables")
    def extend_timetables_command() -> None:
        """Make every active timetable entry's class sessions up to the horizon (idempotent)."""
        click.echo(f"Class sessions made: {classes.extend_timetables()}.")
