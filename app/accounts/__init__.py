"""Accounts on the web: the login and logout pages, ``/api/v1/me`` and who walks each grid.

The rules (who may log in, tokens, the access policy) are :mod:`app.auth`'s; this package only
parses, asks :mod:`app.auth` and answers.
"""


def init_app(app) -> None:
    """Register the login pages and the accounts API."""
    from app.accounts import api, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
