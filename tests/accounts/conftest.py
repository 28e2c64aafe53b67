"""Fixtures of the accounts tests."""

import os

import pytest
from limits.strategies import MovingWindowRateLimiter

from accounts import ratelimit


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def limiter(request, monkeypatch):
    """A fresh rate limiter on process memory, and on the real Redis (marked redis)."""
    url = os.environ["REDIS_URL"] if request.param == "redis" else None
    limiter = MovingWindowRateLimiter(ratelimit._storage(url))
    limiter.storage.reset()
    monkeypatch.setattr(ratelimit, "_limiter", limiter)
    yield limiter
    limiter.storage.reset()
