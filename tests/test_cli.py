"""The command line: users create, tokens create, seed demo."""

import re

import pytest
from sqlalchemy import select, text
from werkzeug.security import check_password_hash

from app.auth.models import ApiToken, User
from app.core.extensions import db


def users_create(runner, *extra, username="newplanner", password="long-enough-1", role="planner", area="620103002"):
    args = ["users", "create", "--username", username, "--password", password, "--role", role]
    if area:
        args += ["--area", area]
    return runner.invoke(args=args + list(extra))


def test_users_create_makes_a_user_with_a_hashed_password(runner, demo):
    result = users_create(runner)
    assert result.exit_code == 0, result.output
    assert "created user newplanner (planner, area 620103002)" in result.output
    user = db.session.scalar(select(User).where(User.username == "newplanner"))
    assert user.role == "planner" and user.area.code == "620103002"
    assert "long-enough-1" not in user.password_hash
    assert check_password_hash(user.password_hash, "long-enough-1")


def test_users_create_duplicate_is_refused(runner, demo):
    result = users_create(runner, username="planner")
    assert result.exit_code != 0
    assert "user 'planner' already exists" in result.output


def test_users_create_bad_role_is_refused(runner, demo):
    result = users_create(runner, role="emperor")
    assert result.exit_code != 0
    assert "Invalid value for '--role'" in result.output and "planner" in result.output


def test_users_create_unknown_area_is_refused(runner, demo):
    result = users_create(runner, area="620199999")
    assert result.exit_code != 0
    assert "no area with code 620199999" in result.output
    assert db.session.scalar(select(User).where(User.username == "newplanner")) is None


def test_users_create_short_password_is_refused(runner, demo):
    result = users_create(runner, password="short")
    assert result.exit_code != 0
    assert "password: at least 8 characters" in result.output
    assert db.session.scalar(select(User).where(User.username == "newplanner")) is None


def test_users_create_without_area_only_for_admins(runner, demo):
    assert users_create(runner, area=None).exit_code != 0
    assert users_create(runner, username="root2", role="admin", area=None).exit_code == 0


def test_tokens_create_prints_a_token_that_works_and_is_stored_hashed(runner, client, demo):
    result = runner.invoke(args=["tokens", "create", "--user", "patrol", "--device", "phone"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.get_json()["username"] == "patrol"
    # The clear token appears in no column of any row, in the tokens table or the audit log.
    for table in ("api_tokens", "audit_log"):
        hits = db.session.execute(
            text(f"SELECT count(*) FROM {table} t WHERE strpos(t::text, :tok) > 0"), {"tok": token}
        ).scalar()
        assert hits == 0, table
    row = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    assert row.device == "phone" and len(row.token_hash) == 64


def test_tokens_create_for_unknown_user_fails(runner, demo):
    result = runner.invoke(args=["tokens", "create", "--user", "ghost"])
    assert result.exit_code != 0 and "no user 'ghost'" in result.output


def test_seed_demo_twice_adds_nothing(runner, demo):
    before = {
        t: db.session.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("areas", "users", "buildings", "chargers")
    }
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    counts = [int(n) for n in re.findall(r" (\d+)", result.output)]
    assert counts and all(n == 0 for n in counts), result.output
    after = {t: db.session.scalar(text(f"SELECT count(*) FROM {t}")) for t in before}
    assert after == before


def test_seed_demo_if_empty_skips_a_loaded_database(runner, demo):
    result = runner.invoke(args=["seed", "demo", "--if-empty"])
    assert result.exit_code == 0 and "already present" in result.output


def test_seed_logins_prints_the_demo_logins(runner, demo):
    result = runner.invoke(args=["seed", "logins"])
    assert "planner" in result.output and "wuwei-planner" in result.output


def test_tokens_list_and_revoke(runner, client, demo):
    token = runner.invoke(args=["tokens", "create", "--user", "patrol", "--device", "phone"]).output.strip()
    listing = runner.invoke(args=["tokens", "list", "--user", "patrol"]).output
    assert token[:8] in listing and "phone" in listing and token not in listing
    assert runner.invoke(args=["tokens", "revoke", "--", token[:3]]).exit_code != 0  # too short to be safe
    result = runner.invoke(args=["tokens", "revoke", "--", token[:8]])  # "--": a token may start with "-"
    assert result.exit_code == 0 and "revoked 1 token" in result.output
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "REVOKED" in runner.invoke(args=["tokens", "list", "--user", "patrol"]).output


@pytest.mark.no_transaction
def test_seed_demo_if_empty_loads_an_empty_database_once():
    import flask_migrate

    from tests.conftest import database_url, make_test_app, recreate_database
    from tests.test_migrations import _drop

    url = database_url("seed")
    recreate_database(url)
    app = make_test_app(url)
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="head")
            runner = app.test_cli_runner()
            first = runner.invoke(args=["seed", "demo", "--if-empty"])
            assert first.exit_code == 0 and "demo loaded" in first.output, first.output
            assert int(re.search(r"areas (\d+)", first.output).group(1)) > 50
            second = runner.invoke(args=["seed", "demo", "--if-empty"])
            assert "already present" in second.output
            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(url)
