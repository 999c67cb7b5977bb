"""Caps that bound what one content can cost, shared by the engine and the decoders. Reaching
one is always said (a warning for the file): the findings are then a lower bound."""

from __future__ import annotations

# Offsets kept per keyword and content (the places the decoders follow). A content with more
# (48 MB of "LTAI" repeated) keeps memory bounded instead of holding every one.
MAX_HITS_KEPT = 100_000
# Matches kept per content and rule pass: a 48 MB file of distinct key-shaped values would
# otherwise hold millions of findings in memory.
MAX_MATCHES_KEPT = 100_000
