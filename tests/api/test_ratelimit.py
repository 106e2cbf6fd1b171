"""The limits on their own: the rate limiter's buckets, its keys for anonymous callers, and StreamLimit."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from sidecar.edge.auth import anonymous_key
from sidecar.edge.ratelimit import PRUNE_AT, RateLimited, RateLimiter, StreamLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_stream_of_one_off_addresses_holds_a_bounded_number_of_buckets() -> None:
    """200,000 addresses that each fail once, a millisecond apart: the buckets held stay bounded."""
    clock = Clock()
    limiter = RateLimiter(per_minute=600, burst=120, clock=clock)
    most = 0
    for number in range(200_000):
        clock.now += 0.001
        limiter.take(f"anonymous:10.{number >> 16}.{(number >> 8) & 255}.{number & 255}")
        most = max(most, limiter.held)
    assert most <= PRUNE_AT + 1


def test_dropping_full_buckets_keeps_a_caller_over_its_rate_over_it() -> None:
    """Only buckets refilled to the burst are dropped: one that spent its burst still limits its caller."""
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=5, clock=clock)
    for _ in range(5):
        limiter.take("tok_busy")
    for number in range(PRUNE_AT - 1):  # with the busy one, PRUNE_AT: no drop yet
        limiter.take(f"anonymous:one-off-{number}")
    clock.now = 1.5  # the one-offs are full again; the busy token has 1.5 requests
    limiter.take("anonymous:the-last")  # past PRUNE_AT: the full ones are dropped
    assert limiter.held == 2
    limiter.take("tok_busy")
    with pytest.raises(RateLimited):
        limiter.take("tok_busy")


def _request(host: str) -> Request:
    return Request({"type": "http", "client": (host, 40000), "headers": []})


def test_an_ipv6_caller_is_limited_by_its_64_and_an_ipv4_one_by_its_address() -> None:
    """Every address of one IPv6 /64 shares a bucket (one subscriber holds them all); IPv4 is per address."""
    assert anonymous_key(_request("2001:db8:1:2::1")) == anonymous_key(_request("2001:db8:1:2:ffff::9"))
    assert anonymous_key(_request("2001:db8:1:2::1")) != anonymous_key(_request("2001:db8:1:3::1"))
    assert anonymous_key(_request("192.0.2.1")) != anonymous_key(_request("192.0.2.2"))
    assert anonymous_key(_request("::ffff:192.0.2.1")) == anonymous_key(_request("192.0.2.1"))
    assert anonymous_key(_request("testclient")) == "anonymous:testclient"


def test_a_release_counts_its_own_stream_out_once() -> None:
    """A second call of an old release does not free the same token's next stream."""
    limit = StreamLimit(2, "hashed manifest")
    first = limit.admit("tok_a")
    first()
    again = limit.admit("tok_a")
    first()  # late, from the stream that already ended
    assert limit.open == 1
    with pytest.raises(RateLimited, match="one at a time"):
        limit.admit("tok_a")
    other = limit.admit("tok_b")
    with pytest.raises(RateLimited, match="2 hashed manifests are being made"):
        limit.admit("tok_c")
    again()
    other()
    assert limit.open == 0
