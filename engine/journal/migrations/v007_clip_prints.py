"""Step 7: perceptual fingerprints of delivered clips, and the bands that find them.

`clip_prints` holds each job's frame hashes (8 bytes each, big-endian, in clip order).
`clip_print_bands` indexes every hash by its four 16-bit quarters, tagged with the sample's
place in the clip, so a look-up reads the rows of the bands it probes (`engine.journal.prints`)
through the primary key, not every print.
"""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    db.conn.execute(
        "CREATE TABLE clip_prints (job_id INTEGER PRIMARY KEY, hashes BLOB NOT NULL, at REAL NOT NULL)"
    )
    db.conn.execute(
        "CREATE TABLE clip_print_bands (band INTEGER NOT NULL, job_id INTEGER NOT NULL,"
        " PRIMARY KEY (band, job_id)) WITHOUT ROWID"
    )
    db.conn.execute("CREATE INDEX idx_clip_print_bands_job ON clip_print_bands (job_id)")
