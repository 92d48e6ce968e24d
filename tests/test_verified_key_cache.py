"""The API's cache of recently verified keys: what it keeps, and what it drops (a revoked key, the least
recently used key when full)."""

from __future__ import annotations

from accounts.store import VerifiedKeyCache
from core.models import ProjectIdentity


def _identity(key_id: str) -> ProjectIdentity:
    return ProjectIdentity(project_id="proj_test", key_id=key_id)


def test_a_verified_key_is_answered_from_the_cache() -> None:
    cache = VerifiedKeyCache(ttl_seconds=60)
    cache.put("hash_a", _identity("key_a"))
    assert cache.get("hash_a") == _identity("key_a")
    assert cache.get("hash_never_put") is None


def test_a_zero_ttl_caches_nothing() -> None:
    cache = VerifiedKeyCache(ttl_seconds=0)
    cache.put("hash_a", _identity("key_a"))
    assert cache.get("hash_a") is None


def test_forgetting_a_key_drops_every_hash_that_verified_as_it() -> None:
    cache = VerifiedKeyCache(ttl_seconds=60)
    cache.put("hash_a1", _identity("key_a"))
    cache.put("hash_a2", _identity("key_a"))
    cache.put("hash_b", _identity("key_b"))
    cache.forget_key("key_a")
    assert cache.get("hash_a1") is None and cache.get("hash_a2") is None
    assert cache.get("hash_b") == _identity("key_b")


def test_a_full_cache_drops_the_least_recently_used_key() -> None:
    cache = VerifiedKeyCache(ttl_seconds=60, max_entries=2)
    cache.put("hash_a", _identity("key_a"))
    cache.put("hash_b", _identity("key_b"))
    assert cache.get("hash_a") is not None  # hash_b is now the least recently used
    cache.put("hash_c", _identity("key_c"))
    assert cache.get("hash_b") is None
    assert cache.get("hash_a") is not None and cache.get("hash_c") is not None
