"""How long the hotline waits for the journal's replica by default."""

from __future__ import annotations

from fallback.replica import REPLICA_ACK_PERIOD_MS, RedisJournalReplica
from hotline.settings import Settings


def test_the_default_wait_outlasts_a_resynced_replicas_first_acknowledgement() -> None:
    # Redis starts streaming to a replica that has just resynced only at its first
    # periodic ACK: a wait of one ACK period refuses that first write on a busy host.
    assert Settings().journal_wait_ms >= 2 * REPLICA_ACK_PERIOD_MS
    assert RedisJournalReplica("redis://127.0.0.1:1/0").wait_ms == Settings().journal_wait_ms
