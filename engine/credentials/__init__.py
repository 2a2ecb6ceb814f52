"""Content credentials: who made a clip, said in a way anyone can check, and kept findable.

* `authority`: `python -m engine credentials init`, a local authority and a signer for owners
  without a certificate of their own.
* `signing`: the settings' credentials, tried once at start-up, and `sign_clip` over a final MP4.
* `fingerprint`: perceptual frame hashes that survive the re-encodes that strip credentials.
* `verify`: reading credentials back (trusted / valid / changed / none) and recognising a
  fingerprint in the journal.
* `fit`: re-encoding a clip under an upload limit and signing the result, with room left for
  the manifest.
"""

from engine.credentials.authority import Authority, AuthorityExists, make_authority
from engine.credentials.signing import ClipFacts, Signing, SigningError, load_signing, sign_clip
from engine.credentials.verify import Verdict, check_credentials, describe, inspect, recognise

__all__ = [
    "Authority",
    "AuthorityExists",
    "ClipFacts",
    "Signing",
    "SigningError",
    "Verdict",
    "check_credentials",
    "describe",
    "inspect",
    "load_signing",
    "make_authority",
    "recognise",
    "sign_clip",
]
