"""The production cache fails open: Redis down means no throttling for a while, never a 500."""

from __future__ import annotations

import pytest

from fracture_site.cache import FailOpenRedisCache
from fracture_site.localredis import free_port


@pytest.fixture
def dead_redis_cache():
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    return FailOpenRedisCache(url, {"OPTIONS": {"socket_connect_timeout": 0.5}})


def test_operations_on_a_dead_redis_behave_as_a_miss(dead_redis_cache, caplog):
    assert dead_redis_cache.get("throttle_user_1", []) == []
    dead_redis_cache.set("throttle_user_1", [1.0], 60)
    assert dead_redis_cache.add("k", 1) is False and dead_redis_cache.delete("k") is False
    assert "Redis unavailable" in caplog.text


@pytest.mark.django_db
def test_api_answers_while_the_throttle_cache_is_down(monkeypatch, dead_redis_cache, api_client):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "cache", dead_redis_cache)
    assert api_client.get("/api/v1/patients/").status_code == 200
