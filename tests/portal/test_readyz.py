"""/readyz: may this node take traffic? /healthz's three checks, and every migration applied."""

import pytest
from django.db import OperationalError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from portal.celery import app as celery_app

PARTS = {"status", "database", "broker", "cache", "migrations"}


@pytest.mark.redis
def test_it_says_ready_when_everything_is_up_and_migrated(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "ready",
        "database": "up",
        "broker": "up",
        "cache": "up",
        "migrations": "applied",
    }


@pytest.mark.redis
def test_it_answers_503_while_a_migration_is_not_applied(client, db):
    # The new code started before `migrate`: its last portal migration is not in the database
    # (the row is deleted inside the test's transaction, which is rolled back after it).
    leaf = max(
        name for app, name in MigrationLoader(connection).graph.leaf_nodes() if app == "portal"
    )
    MigrationRecorder.Migration.objects.filter(app="portal", name=leaf).delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "up",
        "broker": "up",
        "cache": "up",
        "migrations": "pending",
    }


@pytest.mark.redis
def test_it_stays_ready_when_the_database_has_migrations_this_code_does_not_know(client, db):
    # An upgrade: the new release migrated first, the old code still serves until replaced.
    MigrationRecorder.Migration.objects.create(app="portal", name="9999_from_the_next_release")
    assert client.get("/readyz").status_code == 200


def test_it_names_the_cache_when_it_is_down(client, db, settings):
    # Nothing listens on port 1: a real refused connection, not a mock.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["cache"] == "down"
    assert response.json()["status"] == "unavailable"


def test_it_names_the_broker_when_it_is_down(client, db, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"


def test_it_tells_nothing_but_which_part_failed(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('could not connect to server "db.internal" password=hunter2')

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = client.get("/readyz")
    assert response.status_code == 503
    assert set(response.json()) == PARTS
    assert response.json()["database"] == "down"
    assert response.json()["migrations"] == "unknown"
    assert b"hunter2" not in response.content
    assert b"Traceback" not in response.content
    assert b"db.internal" not in response.content


def test_it_answers_over_plain_http_when_everything_else_redirects(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/readyz").status_code in {200, 503}
    assert client.get("/accounts/login/").status_code == 301


def test_it_refuses_post(client, db):
    assert client.post("/readyz").status_code == 405
