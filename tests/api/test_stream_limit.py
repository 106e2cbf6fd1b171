"""StreamLimit, the bound on costly streams at once: its counting on its own."""

from __future__ import annotations

import pytest

from sidecar.edge.ratelimit import RateLimited, StreamLimit


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
