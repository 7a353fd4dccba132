"""The client's address: the peer, or X-Forwarded-For read through trusted proxies only."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings

from leadflow.core.clientaddress import client_address


def request(peer="203.0.113.7", forwarded=None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says():
    assert client_address(request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=["10.0.0.1"])
def test_a_spoofed_header_from_an_untrusted_peer_is_ignored():
    assert client_address(request("203.0.113.7", "198.51.100.1, 10.0.0.1")) == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=["10.0.0.1"])
def test_behind_a_trusted_proxy_the_client_is_the_address_it_forwarded():
    assert client_address(request("10.0.0.1", "198.51.100.1")) == "198.51.100.1"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "2001:db8::/32"])
def test_the_header_is_walked_from_the_right_skipping_trusted_proxies():
    # The visitor wrote "1.2.3.4" themselves; the first proxy appended their real address.
    header = "1.2.3.4, 198.51.100.1, 2001:db8::5, 10.1.2.3"

    assert client_address(request("10.0.0.1", header)) == "198.51.100.1"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_trusted_proxy_without_a_header_is_the_client():
    assert client_address(request("10.0.0.1")) == "10.0.0.1"
    assert client_address(request("10.0.0.1", "")) == "10.0.0.1"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_garbage_in_the_header_stops_the_walk_at_the_last_address_a_proxy_vouched_for():
    assert client_address(request("10.0.0.1", "198.51.100.1, not-an-address, 10.0.0.2")) == (
        "10.0.0.2")


@override_settings(TRUSTED_PROXIES=["127.0.0.1"])
def test_an_ipv4_peer_seen_through_an_ipv6_socket_is_matched():
    assert client_address(request("::ffff:127.0.0.1", "198.51.100.1")) == "198.51.100.1"
    assert client_address(request("::ffff:203.0.113.7")) == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=["10.0.0.1", "proxy.example.com"])
def test_a_bad_trusted_proxies_entry_is_a_clear_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="'proxy.example.com' is neither an IP"):
        client_address(request("10.0.0.1", "198.51.100.1"))


@override_settings(TRUSTED_PROXIES=["10.0.0.0/33"])
def test_the_system_check_names_a_bad_trusted_proxies_entry():
    from leadflow.core.apps import check_trusted_proxies

    assert [e.msg for e in check_trusted_proxies()] == [
        "TRUSTED_PROXIES: '10.0.0.0/33' is neither an IP address nor a network such as "
        "10.0.0.0/8."]
