"""Promptreel's chat side: adapters, admission, commands, views and delivery.

Nothing under `bot/` imports torch: the bot process stays light, and renders happen in a
worker (an in-process thread by default, or separate processes sharing the journal).
"""
