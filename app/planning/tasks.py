"""The background job of a street's charger plan (``planning.solve_plan``, queue ``planning``)."""

from app.core import jobs
from app.planning.plans import run_queued


@jobs.queue.task(name="planning.solve_plan", queue="planning", pass_context=True)
def solve_plan(context, plan_id: int) -> None:
    """Solve a queued charger plan, saving each step's progress for the page."""
    with jobs.flask_app_of(context).app_context():
        run_queued(plan_id)
