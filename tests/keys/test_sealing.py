"""Generated keys waiting for their download are sealed to the requesting browser."""

import pytest

from keys.sealing import SealBroken, recipient_keys, seal, unseal

CSV = b"key\nBCDFG-HJKMP-QRTVW-XY234-6789B\n"


def test_only_the_private_half_opens_what_was_sealed_to_the_public_half():
    public, secret = recipient_keys()
    sealed = seal(CSV, recipient=public, context=b"portal key job 7")
    assert CSV not in sealed and b"BCDFG" not in sealed
    assert unseal(sealed, secret=secret, context=b"portal key job 7") == CSV
    _other_public, other_secret = recipient_keys()
    for secret_tried, context in (
        (other_secret, b"portal key job 7"),  # another browser
        (secret, b"portal key job 8"),  # the file copied into another job
        ("", b"portal key job 7"),  # no cookie
        ("not base64 at all!", b"portal key job 7"),
    ):
        with pytest.raises(SealBroken):
            unseal(sealed, secret=secret_tried, context=context)


def test_each_seal_is_different_and_tampering_is_detected():
    public, secret = recipient_keys()
    first = seal(CSV, recipient=public, context=b"job")
    assert seal(CSV, recipient=public, context=b"job") != first
    tampered = first[:-5] + bytes([first[-5] ^ 1]) + first[-4:]
    with pytest.raises(SealBroken):
        unseal(tampered, secret=secret, context=b"job")
