"""Request and fault counters, per API key (by its hash), for tests and benchmarks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal

from ._records import hash_key

__all__ = ["FAULT_KINDS", "REQUEST_KINDS", "FaultKind", "RequestKind", "ServerStats"]

RequestKind = Literal["posts", "job_gets", "video_gets"]
FaultKind = Literal["server_error", "drop", "slow", "burst_429", "post_drop"]
REQUEST_KINDS: tuple[RequestKind, ...] = ("posts", "job_gets", "video_gets")
FAULT_KINDS: tuple[FaultKind, ...] = ("server_error", "drop", "slow", "burst_429", "post_drop")


class ServerStats:
    """What the server saw, per key. Thread-safe: the server counts on its event loop
    while tests read from their own thread.

    Requests count from the moment they arrive, faulted or not; a video GET counts for
    the key that created the job. Requests whose key is unknown count only in
    :meth:`totals`.
    """

    def __init__(self, count_jobs: Callable[[str], dict[str, int]]) -> None:
        self._count_jobs = count_jobs
        self._lock = threading.Lock()
        self._by_key: dict[str | None, dict[str, dict[str, int]]] = {}

    def _bucket(self, key_hash: str | None) -> dict[str, dict[str, int]]:
        bucket = self._by_key.get(key_hash)
        if bucket is None:
            bucket = {
                "requests": dict.fromkeys(REQUEST_KINDS, 0),
                "faults": dict.fromkeys(FAULT_KINDS, 0),
            }
            self._by_key[key_hash] = bucket
        return bucket

    def record_request(self, key_hash: str | None, kind: RequestKind) -> None:
        with self._lock:
            self._bucket(key_hash)["requests"][kind] += 1

    def record_fault(self, key_hash: str | None, kind: FaultKind) -> None:
        with self._lock:
            self._bucket(key_hash)["faults"][kind] += 1

    def for_key_hash(self, key_hash: str) -> dict[str, Any]:
        """The counters of one key and its jobs by status, as ``/_sandbox/stats`` sends."""
        with self._lock:
            bucket = self._bucket(key_hash)
            snapshot = {name: dict(counts) for name, counts in bucket.items()}
        return {"object": "sandbox.stats", **snapshot, "jobs": self._count_jobs(key_hash)}

    def for_key(self, api_key: str) -> dict[str, Any]:
        """Same as :meth:`for_key_hash`, given the key itself."""
        return self.for_key_hash(hash_key(api_key))

    def totals(self) -> dict[str, dict[str, int]]:
        """Counters summed over every key, including requests with no valid key."""
        with self._lock:
            total: dict[str, dict[str, int]] = {
                "requests": dict.fromkeys(REQUEST_KINDS, 0),
                "faults": dict.fromkeys(FAULT_KINDS, 0),
            }
            for bucket in self._by_key.values():
                for name, counts in bucket.items():
                    for kind, value in counts.items():
                        total[name][kind] += value
        return total
