import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_str, env_url


def test_it_reads_booleans(monkeypatch):
    for raw, expected in [("1", True), ("true", True), ("On", True), ("0", False), ("no", False)]:
        monkeypatch.setenv("PORTAL_FLAG", raw)
        assert env_bool("PORTAL_FLAG") is expected


def test_it_refuses_a_bad_boolean_and_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORTAL_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="PORTAL_FLAG"):
        env_bool("PORTAL_FLAG")


def test_it_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("PORTAL_NUMBER", raising=False)
    assert env_int("PORTAL_NUMBER", 7) == 7
    assert env_bool("PORTAL_NUMBER", True) is True


def test_it_refuses_a_bad_integer(monkeypatch):
    monkeypatch.setenv("PORTAL_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match=r"PORTAL_NUMBER.*whole number"):
        env_int("PORTAL_NUMBER", 1)


def test_it_refuses_an_integer_out_of_range(monkeypatch):
    monkeypatch.setenv("PORTAL_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match=r"PORTAL_NUMBER.*at least 1"):
        env_int("PORTAL_NUMBER", 5, minimum=1)
    monkeypatch.setenv("PORTAL_NUMBER", "99")
    with pytest.raises(ImproperlyConfigured, match=r"PORTAL_NUMBER.*at most 10"):
        env_int("PORTAL_NUMBER", 5, maximum=10)


def test_it_requires_a_required_string(monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET", "")
    with pytest.raises(ImproperlyConfigured, match="PORTAL_SECRET is required"):
        env_str("PORTAL_SECRET", required=True)


def test_it_splits_lists_and_refuses_empty_items(monkeypatch):
    monkeypatch.setenv("PORTAL_HOSTS", "a.example, b.example")
    assert env_list("PORTAL_HOSTS") == ["a.example", "b.example"]
    monkeypatch.setenv("PORTAL_HOSTS", "a.example,,b.example")
    with pytest.raises(ImproperlyConfigured, match="PORTAL_HOSTS"):
        env_list("PORTAL_HOSTS")


def test_it_refuses_a_url_with_the_wrong_scheme(monkeypatch):
    monkeypatch.setenv("PORTAL_DB", "mysql://db.example/portal")
    with pytest.raises(ImproperlyConfigured, match=r"PORTAL_DB.*postgres"):
        env_url("PORTAL_DB", schemes={"postgres", "sqlite"})


def test_it_refuses_a_url_without_a_host(monkeypatch):
    monkeypatch.setenv("PORTAL_REDIS", "redis://")
    with pytest.raises(ImproperlyConfigured, match=r"PORTAL_REDIS.*host"):
        env_url("PORTAL_REDIS", schemes={"redis"})
