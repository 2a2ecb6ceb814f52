"""French: one module per surface, with the names of its English text module."""
