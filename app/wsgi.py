"""gunicorn's entry point: ``gunicorn 'app.wsgi:application'`` (``make run``).

The application as ``create_app()`` builds it, plus what belongs to a served process only:

* the tracking gateway in front of Flask, answering ``/track/osmand`` (:mod:`app.tracking.gateway`;
  ``WUWEI_TRACKING_GATEWAY=0`` leaves it out and Flask's view answers);
* the request metrics and request id (:func:`app.health.measure`) around both.

Nothing else: ``gc.freeze()`` was measured and left out (docs/scaling.md, "Process-wide settings").
"""

from app import create_app
from app.health import measure
from app.tracking.gateway import install

app = create_app()
install(app)
measure(app)  # request ids and metrics around the gateway too (docs/operations.md, "Metrics")
application = app
