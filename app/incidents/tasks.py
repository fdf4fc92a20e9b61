"""The incidents' background work on the jobs queue (:mod:`app.core.jobs`): deadline reminders every five
minutes (a procrastinate periodic task, run by ``flask jobs worker``), and ``flask incidents remind`` to run
them by hand or from cron where no worker runs."""

import click
from flask import current_app
from flask.cli import AppGroup

from app.core import jobs
from app.incidents.services.reminders import WARN_HOURS, remind

incidents_cli = AppGroup("incidents", help="Incidents: deadline reminders.")


@jobs.queue.periodic(cron="*/5 * * * *", periodic_id="incidents.remind")
@jobs.queue.task(name="incidents.remind", queue="notices", queueing_lock="incidents.remind", pass_context=True)
def remind_task(context, timestamp: int) -> None:
    """Every five minutes: deadlines near and past, told once per stage."""
    flask_app = jobs.flask_app_of(context)
    with flask_app.app_context(), flask_app.test_request_context():
        remind(float(flask_app.config.get("WUWEI_DEADLINE_WARN_HOURS") or WARN_HOURS))


@incidents_cli.command("remind")
def remind_cmd():
    """Tell of deadlines near and past now (the jobs worker does it every five minutes)."""
    with current_app.test_request_context():
        click.echo(
            f"told of {remind(float(current_app.config.get('WUWEI_DEADLINE_WARN_HOURS') or WARN_HOURS))} incidents"
        )
