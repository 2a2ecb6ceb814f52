"""The journal's schema, one numbered step per change.

Each step is a module `vNNN_what.py` with an `up(db)` function and is listed, in order, in
`engine.journal.schema.MIGRATIONS`; a file's `PRAGMA user_version` is the number of steps it
has run. Steps are never edited once released: a change to the schema is a new step.
"""
