"""One cog per feature: `video` (making videos), `info` (looking things up), `mod` (moderation)."""
