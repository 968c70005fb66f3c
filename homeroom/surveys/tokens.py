"""Survey links' tokens: unguessable, and kept only as a hash.

A token is 32 random bytes (256 bits) from the operating system's generator, written in
URL-safe base64; the database holds its SHA-256, so a copy of the invitations table opens
no household's link. The link itself reaches the family only in their message.
"""

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh, unguessable token for one household's link."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()
