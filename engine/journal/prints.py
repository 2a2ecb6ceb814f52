"""Clip fingerprints: recorded when a clip is stored, looked up by Hamming distance via bands.

A fingerprint is a list of 64-bit frame hashes (`engine.credentials.fingerprint`). Each hash
is split into four 16-bit bands, keyed with the sample's index. A look-up probes each of the
query's bands and every value one bit away from it (17 keys a band) through the primary key,
and computes exact distances only for the jobs found there: a copy is found whenever one of
its samples is within 7 bits of the original's (four bands, so one of them has at most one
flipped bit), while an unrelated print turns up for about 1 query in 120 (see migration v007).
"""

from __future__ import annotations

from engine.journal.base import JournalBase

BANDS = 4
BAND_BITS = 16
HASH_BYTES = 8


def band_keys(hashes: list[int]) -> list[int]:
    """One integer per (sample, band, value): sample << 20 | band << 16 | 16 bits of the hash."""
    mask = (1 << BAND_BITS) - 1
    return [
        (sample << 20) | (band << BAND_BITS) | ((value >> (band * BAND_BITS)) & mask)
        for sample, value in enumerate(hashes)
        for band in range(BANDS)
    ]


def probe_keys(hashes: list[int]) -> list[int]:
    """The band keys of `hashes` and of every value one bit away in each band."""
    keys = []
    for key in band_keys(hashes):
        keys.append(key)
        keys.extend(key ^ (1 << bit) for bit in range(BAND_BITS))
    return keys


def _pack(hashes: list[int]) -> bytes:
    return b"".join(int(h).to_bytes(HASH_BYTES, "big") for h in hashes)


def _unpack(blob: bytes) -> list[int]:
    return [int.from_bytes(blob[i : i + HASH_BYTES], "big") for i in range(0, len(blob), HASH_BYTES)]


class Prints(JournalBase):
    def record_print(self, job_id: int, hashes: list[int]) -> None:
        """The fingerprint of `job_id`'s clip, replacing one an earlier attempt recorded."""
        if not hashes:
            raise ValueError("a fingerprint needs at least one frame hash")
        with self.atomic():
            self.conn.execute("DELETE FROM clip_print_bands WHERE job_id = ?", (job_id,))
            self.conn.execute(
                "INSERT INTO clip_prints (job_id, hashes, at) VALUES (?, ?, ?)"
                " ON CONFLICT(job_id) DO UPDATE SET hashes = excluded.hashes, at = excluded.at",
                (job_id, _pack(hashes), self.clock()),
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO clip_print_bands (band, job_id) VALUES (?, ?)",
                [(key, job_id) for key in band_keys(hashes)],
            )

    def get_print(self, job_id: int) -> list[int] | None:
        row = self.conn.execute("SELECT hashes FROM clip_prints WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else _unpack(row[0])

    def find_prints(self, hashes: list[int], max_distance: float) -> list[tuple[int, float]]:
        """Jobs whose fingerprint is within `max_distance` mean bits of `hashes`, nearest first."""
        keys = probe_keys(hashes)
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self.conn.execute(
            "SELECT p.job_id, p.hashes FROM clip_prints p WHERE p.job_id IN"
            f" (SELECT job_id FROM clip_print_bands WHERE band IN ({marks}))",
            keys,
        ).fetchall()
        found = []
        for job_id, blob in rows:
            theirs = _unpack(blob)
            n = min(len(theirs), len(hashes))
            mean = sum((a ^ b).bit_count() for a, b in zip(hashes[:n], theirs[:n], strict=True)) / n
            if mean <= max_distance:
                found.append((int(job_id), mean))
        return sorted(found, key=lambda item: (item[1], -item[0]))
