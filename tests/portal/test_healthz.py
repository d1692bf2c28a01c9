import pytest
from django.db import OperationalError, connection

from portal.celery import app as celery_app


@pytest.mark.redis
def test_it_says_database_broker_and_cache_are_up(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "broker": "up", "cache": "up"}


def test_it_answers_503_when_the_cache_is_down(client, db, settings):
    # Nothing listens on port 1: a real refused connection, not a mock.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"] == "down"
    assert response.json()["status"] == "unavailable"


def test_it_answers_over_plain_http_when_everything_else_redirects(client, db, settings):
    # Production settings: load balancers probe over HTTP on the private network.
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code in {200, 503}
    assert client.get("/healthz")["Content-Type"] == "application/json"
    other = client.get("/accounts/login/")
    assert other.status_code == 301
    assert other["Location"] == "https://testserver/accounts/login/"


def test_it_answers_503_when_the_broker_is_down(client, db, monkeypatch):
    # Nothing listens on port 1: a real refused connection, not a mock.
    # (broker_write_url follows broker_url; patching it too would "restore" the dead address.)
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert response.json()["status"] == "unavailable"


def test_it_answers_503_when_the_database_is_down(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    # Undone inside the test: the database teardown needs a working cursor.
    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_it_refuses_post(client, db):
    assert client.post("/healthz").status_code == 405


@pytest.mark.redis
def test_it_runs_one_query(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):  # SELECT 1; the broker and the cache are pinged
        assert client.get("/healthz").status_code == 200
