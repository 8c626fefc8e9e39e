"""The primitives of parano against published test vectors (RFC 7748, RFC 5869, GCM)."""

from __future__ import annotations

import pytest

from htagweb_asgi.parano import primitives
from htagweb_asgi.parano.primitives import DecryptionFailed

h = bytes.fromhex


def test_x25519_rfc7748_section_5_2() -> None:
    """One scalar multiplication: the scalar is clamped as the RFC says."""
    scalar = h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    u = h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    expected = h("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
    assert primitives.x25519(scalar, u) == expected


def test_x25519_rfc7748_section_6_1_key_agreement() -> None:
    """Alice and Bob reach the RFC's shared secret from their private keys."""
    alice = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    alice_public = h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    bob = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    bob_public = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    shared = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert primitives.x25519(alice, bob_public) == shared == primitives.x25519(bob, alice_public)
    from nacl.bindings import crypto_scalarmult_base

    assert crypto_scalarmult_base(alice) == alice_public


def test_x25519_refuses_a_low_order_point() -> None:
    """A peer key that makes the secret all zeros (e.g. 0, or 1) is refused, not used."""
    private, _ = primitives.x25519_keypair()
    for point in (bytes(32), (1).to_bytes(32, "little")):
        with pytest.raises(DecryptionFailed):
            primitives.x25519(private, point)


def test_fresh_key_pairs_agree() -> None:
    a_private, a_public = primitives.x25519_keypair()
    b_private, b_public = primitives.x25519_keypair()
    assert a_public != b_public
    assert primitives.x25519(a_private, b_public) == primitives.x25519(b_private, a_public)


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        pytest.param(  # RFC 5869 A.1
            h("0b" * 22),
            h("000102030405060708090a0b0c"),
            h("f0f1f2f3f4f5f6f7f8f9"),
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            id="A.1",
        ),
        pytest.param(  # RFC 5869 A.2: long inputs, several blocks
            bytes(range(0x00, 0x50)),
            bytes(range(0x60, 0xB0)),
            bytes(range(0xB0, 0x100)),
            82,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87",
            id="A.2",
        ),
        pytest.param(  # RFC 5869 A.3: empty salt and info
            h("0b" * 22),
            b"",
            b"",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            id="A.3",
        ),
    ],
)
def test_hkdf_sha256_rfc5869(ikm: bytes, salt: bytes, info: bytes, length: int, okm: str) -> None:
    assert primitives.hkdf_sha256(ikm, salt, info, length).hex() == okm


def test_hkdf_refuses_impossible_lengths() -> None:
    for length in (0, 255 * 32 + 1):
        with pytest.raises(ValueError):
            primitives.hkdf_sha256(b"k", b"", b"", length)


# The GCM specification's test case 16 (McGrew & Viega): AES-256, 96-bit IV, with AAD.
GCM_KEY = h("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
GCM_IV = h("cafebabefacedbaddecaf888")
GCM_AAD = h("feedfacedeadbeeffeedfacedeadbeefabaddad2")
GCM_PLAIN = h(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
GCM_SEALED = h(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    "76fc6ece0f4e1768cddf8853bb2d551b"  # the tag
)


def test_aes_256_gcm_known_answer() -> None:
    cipher = primitives.AesGcm(GCM_KEY)
    assert cipher.seal(GCM_IV, GCM_PLAIN, GCM_AAD) == GCM_SEALED
    assert cipher.open(GCM_IV, GCM_SEALED, GCM_AAD) == GCM_PLAIN


def test_aes_256_gcm_refuses_any_change() -> None:
    """A flipped bit anywhere (ciphertext, tag, AAD, nonce, key) or a cut: refused."""
    cases = [
        (GCM_KEY, GCM_IV, bytes([GCM_SEALED[0] ^ 1]) + GCM_SEALED[1:], GCM_AAD),
        (GCM_KEY, GCM_IV, GCM_SEALED[:-1] + bytes([GCM_SEALED[-1] ^ 0x80]), GCM_AAD),
        (GCM_KEY, GCM_IV, GCM_SEALED, GCM_AAD[:-1] + b"\x00"),
        (GCM_KEY, GCM_IV[:-1] + b"\x00", GCM_SEALED, GCM_AAD),
        (GCM_KEY[:-1] + b"\x00", GCM_IV, GCM_SEALED, GCM_AAD),
        (GCM_KEY, GCM_IV, GCM_SEALED[:-1], GCM_AAD),
        (GCM_KEY, GCM_IV, GCM_SEALED[:15], GCM_AAD),
    ]
    for key, nonce, sealed, aad in cases:
        with pytest.raises(DecryptionFailed):
            primitives.AesGcm(key).open(nonce, sealed, aad)
