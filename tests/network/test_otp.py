"""Tests for one-time-pad encryption and trusted-relay hop-by-hop forwarding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qnetrl._validation import InvalidParameterError
from qnetrl.network.otp import RelayResult, otp_decrypt, otp_encrypt, relay_hop_by_hop

FAST = settings(max_examples=40, deadline=None)

keys = st.binary(min_size=0, max_size=64)


def _pads(rng: np.random.Generator, n_hops: int, length: int) -> list[bytes]:
    """One random pad per hop, each a little longer than the key."""
    return [rng.bytes(length + int(rng.integers(0, 5))) for _ in range(n_hops)]


@FAST
@given(message=keys, extra=st.integers(0, 8), seed=st.integers(0, 2**32 - 1))
def test_otp_round_trip_on_bytes(message: bytes, extra: int, seed: int) -> None:
    pad = np.random.default_rng(seed).bytes(len(message) + extra)
    cipher = otp_encrypt(message, pad)
    assert cipher.dtype == np.uint8 and cipher.shape == (len(message),)
    expected = bytes(a ^ b for a, b in zip(message, pad, strict=False))
    assert cipher.tobytes() == expected
    assert otp_decrypt(cipher, pad).tobytes() == message


def test_otp_accepts_arrays_and_broadcasts_a_batch() -> None:
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(3, 10), dtype=np.uint8)
    pad = rng.integers(0, 256, size=12, dtype=np.uint8)
    cipher = otp_encrypt(batch, pad)
    assert cipher.shape == (3, 10)
    np.testing.assert_array_equal(cipher, batch ^ pad[:10])
    np.testing.assert_array_equal(otp_decrypt(cipher, pad), batch)
    # int lists in [0, 255] are bytes too
    assert otp_encrypt([1, 2], [3, 3]).tolist() == [2, 1]


def test_otp_rejects_short_pad_naming_pad() -> None:
    with pytest.raises(InvalidParameterError, match=r"'pad' parameter of otp_encrypt.*4 bytes"):
        otp_encrypt(b"abcd", b"xyz")
    with pytest.raises(InvalidParameterError, match="'pad' parameter of otp_decrypt"):
        otp_decrypt(b"abcd", b"")


@pytest.mark.parametrize("bad", ["text", [256], [-1], [0.5], np.zeros((), dtype=np.uint8)])
def test_otp_rejects_non_bytes_message(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="'message' parameter of otp_encrypt"):
        otp_encrypt(bad, bytes(8))


@FAST
@given(key=keys, n_hops=st.integers(0, 6), seed=st.integers(0, 2**32 - 1))
def test_relay_honest_round_trip_and_pad_conservation(key: bytes, n_hops: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pads = _pads(rng, n_hops, len(key))
    res = relay_hop_by_hop(key, pads)
    assert isinstance(res, RelayResult)
    assert res.key.tobytes() == key
    # every hop consumes exactly |K| pad bytes: the path costs H * |K|
    assert res.pad_bytes.tolist() == [len(key)] * n_hops
    assert int(res.pad_bytes.sum()) == n_hops * len(key)
    # each link carries the key under that link's pad
    assert res.ciphertexts.shape == (n_hops, len(key))
    for h, pad in enumerate(pads):
        assert otp_decrypt(res.ciphertexts[h], pad).tobytes() == key


def test_relay_accepts_a_pad_matrix() -> None:
    rng = np.random.default_rng(1)
    key = rng.integers(0, 256, 16, dtype=np.uint8)
    pads = rng.integers(0, 256, (4, 20), dtype=np.uint8)
    res = relay_hop_by_hop(key, pads)
    np.testing.assert_array_equal(res.key, key)
    np.testing.assert_array_equal(res.ciphertexts, key ^ pads[:, :16])


@FAST
@given(key=st.binary(min_size=1, max_size=48), n_hops=st.integers(1, 5), seed=st.integers(0, 999))
def test_byzantine_relay_masks_flip_received_bits(key: bytes, n_hops: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pads = _pads(rng, n_hops, len(key))
    masks = rng.integers(0, 256, (n_hops, len(key)), dtype=np.uint8)
    masks[rng.random(n_hops) < 0.5] = 0  # some relays are honest
    res = relay_hop_by_hop(key, pads, tamper=masks)
    flips = np.bitwise_xor.reduce(masks, axis=0)
    np.testing.assert_array_equal(res.key, np.frombuffer(key, np.uint8) ^ flips)
    assert res.pad_bytes.tolist() == [len(key)] * n_hops  # tampering does not change the cost

    # the callback form seeing plaintexts gives the same result hop by hop
    seen: list[bytes] = []

    def relay(hop: int, material: np.ndarray) -> np.ndarray:
        seen.append(material.tobytes())
        return material ^ masks[hop]

    res_cb = relay_hop_by_hop(key, pads, tamper=relay)
    np.testing.assert_array_equal(res_cb.key, res.key)
    np.testing.assert_array_equal(res_cb.ciphertexts, res.ciphertexts)
    assert seen[0] == key  # the first node holds the clean key


def test_relay_rejects_short_pad_and_bad_tamper() -> None:
    with pytest.raises(InvalidParameterError, match=r"'hop_pads'.*at least 4 bytes.*hop 1"):
        relay_hop_by_hop(b"abcd", [b"1234", b"12"])
    with pytest.raises(InvalidParameterError, match="'tamper' parameter of relay_hop_by_hop"):
        relay_hop_by_hop(b"abcd", [b"1234"], tamper=np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(InvalidParameterError, match=r"'tamper'.*4 bytes"):
        relay_hop_by_hop(b"abcd", [b"1234"], tamper=lambda h, m: m[:2])
    with pytest.raises(InvalidParameterError, match="'key' parameter of relay_hop_by_hop"):
        relay_hop_by_hop(np.zeros((2, 2), dtype=np.uint8), [b"1234"])
