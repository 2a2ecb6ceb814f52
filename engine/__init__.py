"""Promptreel's render side: presets, pipelines, rendering, encoding, the job journal and workers.

Importing this package must stay cheap and torch-free: the chat side imports the journal
and request validation from here, and only a worker pays for torch.
"""
