"""The render farm: GPU workers on other machines, reached through Redis with arq.

- `protocol`: key names, the JSON wire format, the URL rules (a password off loopback);
- `remote`: `python -m engine worker --redis URL`, the worker on a GPU machine;
- `dispatch`: `FarmRuntime`, the bot's side, which keeps the journal the one source of truth.
"""
