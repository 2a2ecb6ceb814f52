"""What the social networks (Bluesky, Mastodon) share: mention text, sentences, the polling surface.

- `mentions`: the prompt in a post, without the mentions and the markup around it;
- `texts`: every sentence the bot posts on a network;
- `surface`: `SocialSurface`, reading mentions to a saved cursor and replying with the clip;
  each network's package (`bot.mastodon`, `bot.bluesky`) implements its calls.
"""
