"""Signed session cookies, CSRF tokens and the same-origin check of the approval page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sidecar.web import session

KEY = b"k" * 32
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_sealed_session_opens_with_its_key_until_it_expires() -> None:
    """A sealed session opens to the same token id, expiry and nonce, and not at or after its expiry."""
    started = session.started("tok_0123456789ab", now=NOW, ttl=HOUR)
    value = session.seal(started, KEY)
    assert session.open_session(value, KEY, now=NOW) == started
    assert session.open_session(value, KEY, now=NOW + HOUR) is None


def test_a_tampered_or_foreign_cookie_does_not_open() -> None:
    """Changing any part of the cookie, or another key, or garbage, gives no session."""
    value = session.seal(session.started("tok_0123456789ab", now=NOW, ttl=HOUR), KEY)
    other_token = value.replace("tok_0123456789ab", "tok_ffffffffffff")
    later = value.split(".")
    later[2] = str(int(later[2]) + 3600)
    for forged in (other_token, ".".join(later), value[:-1] + ("0" if value[-1] != "0" else "1")):
        assert session.open_session(forged, KEY, now=NOW) is None
    assert session.open_session(value, b"x" * 32, now=NOW) is None
    for junk in (None, "", "v1", "v1.a.b.c.d", "x" * 500):
        assert session.open_session(junk, KEY, now=NOW) is None


def test_csrf_tokens_are_bound_to_the_nonce_and_the_purpose() -> None:
    """A form token is valid only for the nonce and purpose it was made for."""
    nonce = session.new_nonce()
    token = session.csrf_token(KEY, "session", nonce)
    assert session.csrf_valid(KEY, "session", nonce, token)
    assert not session.csrf_valid(KEY, "sign-in", nonce, token)
    assert not session.csrf_valid(KEY, "session", session.new_nonce(), token)
    assert not session.csrf_valid(KEY, "session", nonce, None)
    assert not session.csrf_valid(KEY, "session", nonce, "guessed")


def test_same_origin_accepts_only_posts_that_name_this_host() -> None:
    """Origin (or Referer without Origin) must name the Host addressed; anything else is refused."""
    host = "127.0.0.1:8123"
    assert session.same_origin(origin="http://127.0.0.1:8123", referer=None, host=host)
    assert session.same_origin(origin=None, referer="http://127.0.0.1:8123/plans/ab", host=host)
    assert not session.same_origin(origin="http://127.0.0.1:9000", referer=None, host=host)
    assert not session.same_origin(origin="http://evil.example", referer=f"http://{host}/", host=host)
    assert not session.same_origin(origin="null", referer=None, host=host)
    assert not session.same_origin(origin=None, referer=None, host=host)
    assert not session.same_origin(origin="javascript://127.0.0.1:8123", referer=None, host=host)
    assert not session.same_origin(origin="http://127.0.0.1:8123", referer=None, host=None)
