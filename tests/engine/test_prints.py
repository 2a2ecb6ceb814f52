"""The journal's clip fingerprints (migration v007): found by Hamming distance through bands,
never by reading every print."""

from __future__ import annotations

import random

from engine.journal import Journal


def flipped(value: int, bits: list[int]) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def test_a_near_copy_is_found_and_strangers_are_not(journal: Journal) -> None:
    rng = random.Random(7)
    prints = {job: [rng.getrandbits(64) for _ in range(8)] for job in (11, 12, 13)}
    for job, hashes in prints.items():
        journal.record_print(job, hashes)

    # Job 12's copy: every sample 7 bits off, spread so each 16-bit band of it changed.
    spread = [0, 1, 16, 17, 32, 33, 48]
    copy = [flipped(h, spread) for h in prints[12]]
    assert journal.find_prints(copy, 16) == [(12, 7.0)]
    assert journal.find_prints(copy, 6) == []  # nearer than it is: not a match
    assert journal.find_prints([rng.getrandbits(64) for _ in range(8)], 16) == []

    # A second attempt's print replaces the first one's, bands and all.
    journal.record_print(12, prints[11][::-1])
    assert journal.find_prints(prints[12], 0) == []
    assert journal.get_print(12) == prints[11][::-1]


def test_look_ups_read_bands_through_the_primary_key(journal: Journal) -> None:
    hashes = [random.Random(1).getrandbits(64) for _ in range(8)]
    journal.record_print(1, hashes)
    statements: list[str] = []
    journal.conn.set_trace_callback(statements.append)  # the statement really run, values filled in
    try:
        assert journal.find_prints(hashes, 0) == [(1, 0.0)]
    finally:
        journal.conn.set_trace_callback(None)
    [lookup] = [s for s in statements if "clip_print_bands" in s]
    plan = journal.conn.execute(f"EXPLAIN QUERY PLAN {lookup}").fetchall()
    details = " | ".join(row[-1] for row in plan)
    assert "SCAN" not in details, details  # neither table is read in full
    assert "clip_print_bands USING PRIMARY KEY" in details, details
