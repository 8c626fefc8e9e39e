"""The primitives of ``parano``: X25519, HKDF-SHA256 and AES-256-GCM (libsodium via pynacl).

The page does the same with WebCrypto, so only primitives both have natively are used.
libsodium offers AES-256-GCM only where the CPU has AES instructions (AES-NI, ARMv8 Crypto
Extensions): a software AES made of lookup tables leaks its key through cache timing. We do
not work around that with another implementation: :func:`require_aes_gcm` refuses
``parano=True`` on such a CPU, at configuration time, with a message saying so.

pynacl is imported inside the functions: only hosts that use ``parano`` pay for it.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from htagweb_asgi.errors import HtagwebError

KEY_BYTES = 32  # X25519 keys, AES-256 keys
NONCE_BYTES = 12
TAG_BYTES = 16
_HASH_BYTES = hashlib.sha256().digest_size


class ParanoUnavailable(HtagwebError, RuntimeError):
    """Raised by :func:`require_aes_gcm` (so by ``HtagASGI(parano=True)``) when this machine
    cannot do AES-256-GCM in hardware, or pynacl is missing."""


class DecryptionFailed(HtagwebError):
    """Raised by :meth:`AesGcm.open` for a forged, altered or wrongly keyed ciphertext, and by
    :func:`x25519` for a public key that yields no secret (a low-order point)."""


def aes_gcm_available() -> bool:
    """Whether libsodium can do AES-256-GCM on this CPU (probed once per call, cheaply)."""
    from nacl import bindings, exceptions

    try:
        bindings.crypto_aead_aes256gcm_encrypt(b"", None, bytes(NONCE_BYTES), bytes(KEY_BYTES))
    except exceptions.UnavailableError:
        return False
    return True


def require_aes_gcm() -> None:
    """Raise ParanoUnavailable unless ``parano`` can work here."""
    try:
        available = aes_gcm_available()
    except ImportError as exc:
        raise ParanoUnavailable(f"parano=True needs pynacl ({exc})") from None
    if not available:
        raise ParanoUnavailable(
            "parano=True needs AES-256-GCM in hardware (AES-NI, or the ARMv8 Crypto "
            "Extensions), which this CPU lacks: libsodium refuses software AES because it "
            "leaks keys through cache timing. Serve this App without parano (and rely on "
            "TLS), or on a CPU with AES instructions."
        )


def x25519_keypair() -> tuple[bytes, bytes]:
    """Return a fresh (private, public) X25519 key pair."""
    from nacl import bindings

    private = os.urandom(KEY_BYTES)
    return private, bindings.crypto_scalarmult_base(private)


def x25519(private: bytes, peer_public: bytes) -> bytes:
    """The RFC 7748 shared secret; DecryptionFailed when it is all zeros (a low-order point)."""
    from nacl import bindings, exceptions

    try:
        return bindings.crypto_scalarmult(private, peer_public)
    except exceptions.CryptoError:
        raise DecryptionFailed("the peer's public key is not acceptable") from None


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256: extract, then expand to `length` bytes."""
    if not 0 < length <= 255 * _HASH_BYTES:
        raise ValueError(f"HKDF-SHA256 cannot produce {length} bytes")
    prk = hmac.digest(salt or bytes(_HASH_BYTES), ikm, "sha256")
    output, block = b"", b""
    for counter in range(1, -(-length // _HASH_BYTES) + 1):
        block = hmac.digest(prk, block + info + bytes((counter,)), "sha256")
        output += block
    return output[:length]


class AesGcm:
    """AES-256-GCM under one key. The libsodium functions are looked up once per key, not
    once per message: a click's round trip seals and opens twice."""

    def __init__(self, key: bytes) -> None:
        from nacl import bindings, exceptions

        self._key = key
        self._encrypt = bindings.crypto_aead_aes256gcm_encrypt
        self._decrypt = bindings.crypto_aead_aes256gcm_decrypt
        self._error = exceptions.CryptoError

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """The ciphertext followed by its 16-byte tag."""
        return self._encrypt(plaintext, aad, nonce, self._key)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext of `sealed`; DecryptionFailed unless its tag is right."""
        if len(sealed) < TAG_BYTES:
            raise DecryptionFailed("ciphertext shorter than its tag")
        try:
            return self._decrypt(sealed, aad, nonce, self._key)
        except self._error:
            raise DecryptionFailed("the message was altered or not sealed with our key") from None
