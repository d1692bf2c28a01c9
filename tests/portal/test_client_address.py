"""The client address behind proxies: every form of X-Forwarded-For entry, and never a silent
None that would skip the per-address guessing counter."""

import pytest
from django.test import RequestFactory

from portal.middleware import client_address, parse_address


def request(forwarded=None, remote="10.0.0.2"):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7:5678", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("[::ffff:203.0.113.7]:80", "203.0.113.7"),
    ],
)
def test_it_reads_each_form_a_proxy_writes(settings, entry, address):
    settings.TRUSTED_PROXY_COUNT = 1
    assert parse_address(entry) == address
    assert client_address(request(f"198.51.100.1, {entry}")) == address


@pytest.mark.parametrize(
    "entry",
    [
        "unknown",
        "garbage",
        "203.0.113.7:http",
        "203.0.113.7:123456",
        "[2001:db8::1",
        "[2001:db8::1]443",
        "[2001:db8::1]:x",
        "2001:db8::1:443:",
        "203.0.113",
        "_hidden",
    ],
)
def test_an_entry_that_is_no_address_counts_against_the_nearest_proxy(settings, entry):
    settings.TRUSTED_PROXY_COUNT = 1
    assert parse_address(entry) is None
    assert client_address(request(f"198.51.100.1, {entry}")) == "10.0.0.2"


def test_it_trusts_only_as_many_entries_as_there_are_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    forged = request("6.6.6.6, 203.0.113.7:5678, 10.0.0.1")
    assert client_address(forged) == "203.0.113.7"
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(forged) == "10.0.0.2"


def test_too_few_entries_mean_the_nearest_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request("203.0.113.7")) == "10.0.0.2"


def test_it_is_none_only_when_remote_addr_is_no_address(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request(remote="")) is None
    assert client_address(request(remote="[::1]:8000")) == "::1"
