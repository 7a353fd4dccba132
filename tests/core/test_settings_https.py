"""HTTPS settings computed from the environment (LEADFLOW_HTTPS, LEADFLOW_SITE_URL) and what
responses carry when they are on: HSTS, Secure cookies, the redirect from plain http."""

import runpy

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

import leadflow.settings
from tests.factories import make_user

SETTINGS_FILE = leadflow.settings.__file__
ENVIRONMENT = ("LEADFLOW_HTTPS", "LEADFLOW_SITE_URL", "CSRF_TRUSTED_ORIGINS",
               "LEADFLOW_SSL_REDIRECT", "LEADFLOW_HSTS_SECONDS",
               "LEADFLOW_HSTS_INCLUDE_SUBDOMAINS", "LEADFLOW_HSTS_PRELOAD")
HTTPS_SETTINGS = ("SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE",
                  "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
                  "SECURE_HSTS_PRELOAD", "CSRF_TRUSTED_ORIGINS")


def computed(monkeypatch, tmp_path, **env) -> dict:
    """The settings module run afresh under the given environment (not the loaded settings)."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEADFLOW_HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(SETTINGS_FILE)


def https_values(values: dict) -> dict:
    return {name: values.get(name) for name in HTTPS_SETTINGS}


def test_https_is_off_by_default(monkeypatch, tmp_path):
    values = computed(monkeypatch, tmp_path)

    assert (values["HTTPS"], values["SITE_URL"]) == (False, "")
    assert https_values(values) == {
        "SECURE_PROXY_SSL_HEADER": None, "SECURE_SSL_REDIRECT": None,
        "SESSION_COOKIE_SECURE": None, "CSRF_COOKIE_SECURE": None, "SECURE_HSTS_SECONDS": None,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": None, "SECURE_HSTS_PRELOAD": None,
        "CSRF_TRUSTED_ORIGINS": [],
    }


def test_leadflow_https_turns_on_hsts_secure_cookies_and_the_proxy_header(monkeypatch, tmp_path):
    values = computed(monkeypatch, tmp_path, LEADFLOW_HTTPS="1")

    assert values["HTTPS"] is True
    assert https_values(values) == {
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False, "CSRF_TRUSTED_ORIGINS": [],
    }


def test_an_https_site_url_turns_https_on_and_is_the_trusted_origin(monkeypatch, tmp_path):
    values = computed(monkeypatch, tmp_path, LEADFLOW_SITE_URL="https://Leads.example.com:8443/")

    assert (values["HTTPS"], values["SITE_URL"]) == (True, "https://Leads.example.com:8443")
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://Leads.example.com:8443"]
    assert (values["SESSION_COOKIE_SECURE"], values["CSRF_COOKIE_SECURE"]) == (True, True)
    assert values["SECURE_HSTS_SECONDS"] == 31536000


def test_an_http_site_url_leaves_https_off(monkeypatch, tmp_path):
    values = computed(monkeypatch, tmp_path, LEADFLOW_SITE_URL="http://intranet.local")

    assert values["HTTPS"] is False
    assert values["CSRF_TRUSTED_ORIGINS"] == ["http://intranet.local"]
    assert "SESSION_COOKIE_SECURE" not in values


def test_explicit_trusted_origins_win_over_the_site_url(monkeypatch, tmp_path):
    values = computed(monkeypatch, tmp_path, LEADFLOW_SITE_URL="https://leads.example.com",
                      CSRF_TRUSTED_ORIGINS="https://a.example.com, https://b.example.com")

    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://a.example.com", "https://b.example.com"]


def test_hsts_and_redirect_are_configurable(monkeypatch, tmp_path):
    values = computed(monkeypatch, tmp_path, LEADFLOW_HTTPS="true", LEADFLOW_HSTS_SECONDS="600",
                      LEADFLOW_SSL_REDIRECT="0", LEADFLOW_HSTS_INCLUDE_SUBDOMAINS="0",
                      LEADFLOW_HSTS_PRELOAD="1")

    assert (values["SECURE_HSTS_SECONDS"], values["SECURE_SSL_REDIRECT"],
            values["SECURE_HSTS_INCLUDE_SUBDOMAINS"], values["SECURE_HSTS_PRELOAD"]) == (
        600, False, False, True)


@pytest.mark.parametrize("url", ["leads.example.com", "ftp://leads.example.com", "https://"])
def test_a_site_url_that_is_not_an_address_is_refused(monkeypatch, tmp_path, url):
    with pytest.raises(ImproperlyConfigured) as exc:
        computed(monkeypatch, tmp_path, LEADFLOW_SITE_URL=url)

    assert str(exc.value) == (
        f"LEADFLOW_SITE_URL must look like https://leads.example.com, not {url!r}.")


@pytest.mark.parametrize("seconds", ["a year", "-1", ""])
def test_hsts_seconds_that_are_not_a_number_are_refused(monkeypatch, tmp_path, seconds):
    with pytest.raises(ImproperlyConfigured) as exc:
        computed(monkeypatch, tmp_path, LEADFLOW_HTTPS="1", LEADFLOW_HSTS_SECONDS=seconds)

    assert str(exc.value) == (
        f"LEADFLOW_HSTS_SECONDS must be a whole number of seconds, not {seconds!r}.")


def apply(settings, values: dict) -> None:
    for name in HTTPS_SETTINGS:
        if name in values:
            setattr(settings, name, values[name])


def test_with_https_on_responses_carry_hsts_and_secure_cookies(client, settings, monkeypatch,
                                                                tmp_path):
    apply(settings, computed(monkeypatch, tmp_path, LEADFLOW_HTTPS="1"))
    make_user(email="agent@example.com", password="password123")

    page = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    login = client.post(reverse("login"), {"username": "agent@example.com",
                                           "password": "password123"},
                        HTTP_X_FORWARDED_PROTO="https")

    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert page.cookies["csrftoken"]["secure"] is True
    assert login.status_code == 302
    assert login.cookies["sessionid"]["secure"] is True
    assert login["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_with_https_on_plain_http_is_redirected(client, settings, monkeypatch, tmp_path):
    apply(settings, computed(monkeypatch, tmp_path, LEADFLOW_HTTPS="1"))

    response = client.get("/login/?next=/leads/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/?next=/leads/"


def test_with_https_off_no_hsts_and_cookies_are_not_secure(client, monkeypatch):
    make_user(email="agent@example.com", password="password123")

    page = client.get(reverse("login"))
    login = client.post(reverse("login"), {"username": "agent@example.com",
                                           "password": "password123"})

    assert page.status_code == 200
    assert "Strict-Transport-Security" not in page
    assert page.cookies["csrftoken"]["secure"] == ""
    assert login.cookies["sessionid"]["secure"] == ""
