"""``parano``: end-to-end encryption between the page and the user's process (X25519,
HKDF-SHA256, AES-256-GCM). The worker side only checks shapes (``envelope``); the keys live
in the user process (``link``, ``agreement``, ``primitives``) and in the page."""
