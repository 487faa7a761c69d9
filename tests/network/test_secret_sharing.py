"""Tests for Shamir sharing, robust (Reed-Solomon) decoding and authenticated multi-path keys."""

from __future__ import annotations

import galois
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from qnetrl._validation import InvalidParameterError
from qnetrl.network.authentication import (
    AUTH_KEY_BYTES,
    TAG_BYTES,
    forgery_probability,
    poly_mac,
    verify_mac,
)
from qnetrl.network.secret_sharing import (
    MultipathResult,
    receive_multipath,
    reconstruct,
    reconstruct_robust,
    send_multipath,
    split,
)

FAST = settings(max_examples=30, deadline=None)
GF256 = galois.GF(2**8)


@st.composite
def sharing_cases(draw: st.DrawFn, max_n: int = 9) -> tuple[bytes, int, int, int]:
    """A key, a threshold t, a share count n >= t and a seed."""
    key = draw(st.binary(min_size=1, max_size=40))
    n = draw(st.integers(1, max_n))
    t = draw(st.integers(1, n))
    return key, t, n, draw(st.integers(0, 2**32 - 1))


def _corrupt(shares: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """XOR the given share rows with masks that are nonzero in every byte."""
    out = shares.copy()
    out[rows] ^= rng.integers(1, 256, size=(rows.size, shares.shape[1]), dtype=np.uint8)
    return out


# ---------------------------------------------------------------------------------- Shamir


@FAST
@given(case=sharing_cases(), data=st.data())
def test_any_t_shares_reconstruct_the_secret(case, data) -> None:
    key, t, n, seed = case
    shares = split(key, t, n, np.random.default_rng(seed))
    assert shares.shape == (n, len(key)) and shares.dtype == np.uint8
    subset = np.array(data.draw(st.permutations(range(n)))[:t])
    secret = reconstruct(shares[subset], subset + 1, t)
    assert secret.tobytes() == key


def test_threshold_one_replicates_the_secret() -> None:
    shares = split(b"\x00\x7f\xff", 1, 4, np.random.default_rng(0))
    assert all(row.tobytes() == b"\x00\x7f\xff" for row in shares)


def test_shares_are_reed_solomon_codewords_mceliece_sarwate() -> None:
    # McEliece & Sarwate (1981): Shamir shares at the points alpha^0..alpha^254 form a codeword
    # of the narrow-sense RS(255, t) code, i.e. c(alpha^j) = 0 for j = 1..255-t, checked here
    # with galois' own polynomial arithmetic instead of this module's tables.
    t = 3
    alpha = GF256.primitive_element
    xs = np.asarray(alpha ** np.arange(255), dtype=np.uint8)
    key = b"\x00\x5a\xff"
    shares = split(key, t, 255, np.random.default_rng(7), xs=xs)
    roots = alpha ** np.arange(1, 256 - t)
    for b in range(len(key)):
        codeword = galois.Poly(GF256(shares[::-1, b].copy()))  # share i is the z^i coefficient
        assert np.all(codeword(roots) == 0)
    assert reconstruct(shares[100:103], xs[100:103], t).tobytes() == key


def test_fewer_than_t_shares_look_uniform() -> None:
    # Perfect secrecy: with t = 2 a single share of a constant secret is uniform on GF(2^8).
    rng = np.random.default_rng(11)
    for secret_byte in (0x00, 0xFF):
        shares = split(bytes([secret_byte]) * 40_000, 2, 3, rng)
        counts = np.bincount(shares[1], minlength=256)
        assert stats.chisquare(counts).pvalue > 1e-4


# ------------------------------------------------------------------------- robust decoding


@FAST
@given(case=sharing_cases(max_n=10), data=st.data())
def test_robust_corrects_up_to_half_the_redundancy(case, data) -> None:
    key, t, n, seed = case
    rng = np.random.default_rng(seed)
    shares = split(key, t, n, rng)
    e = (n - t) // 2
    bad = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), max_size=e))), dtype=int)
    res = reconstruct_robust(_corrupt(shares, bad, rng), np.arange(1, n + 1), t)
    assert res.status == ("corrected" if bad.size else "ok")
    assert res.secret is not None and res.secret.tobytes() == key
    assert np.flatnonzero(res.corrupted).tolist() == bad.tolist()
    assert res.n_corrected == bad.size


@FAST
@given(case=sharing_cases(max_n=10), data=st.data())
def test_robust_detects_corruptions_beyond_the_radius(case, data) -> None:
    # With radius e, every word with e < k <= n - t - e errors is far from all codewords.
    key, t, n, seed = case
    e = data.draw(st.integers(0, (n - t) // 2))
    k_max = n - t - e
    if k_max <= e:
        return  # no guaranteed-detection window for this (t, n, e)
    k = data.draw(st.integers(e + 1, k_max))
    rng = np.random.default_rng(seed)
    shares = split(key, t, n, rng)
    bad = rng.choice(n, size=k, replace=False)
    res = reconstruct_robust(_corrupt(shares, bad, rng), np.arange(1, n + 1), t, e)
    assert res.status == "failed" and res.secret is None and res.n_corrected == 0


def test_batched_decode_matches_byte_by_byte_decode() -> None:
    # Bytes with different error patterns (0, 1 or 2 errors at different shares) are decoded
    # in one batch; the batch must agree with decoding each byte on its own.
    t, n = 3, 7
    rng = np.random.default_rng(5)
    key = rng.integers(0, 256, 64, dtype=np.uint8)
    shares = split(key, t, n, rng)
    noisy = shares.copy()
    for b in range(64):
        bad = rng.choice(n, size=b % 3, replace=False)
        noisy[bad, b] ^= rng.integers(1, 256, size=bad.size, dtype=np.uint8)
    xs = np.arange(1, n + 1)
    batch = reconstruct_robust(noisy, xs, t)
    assert batch.status == "corrected"
    np.testing.assert_array_equal(batch.secret, key)
    union = np.zeros(n, dtype=bool)
    for b in range(64):
        single = reconstruct_robust(noisy[:, b : b + 1], xs, t)
        assert single.secret is not None and single.secret[0] == key[b]
        np.testing.assert_array_equal(single.corrupted, noisy[:, b] != shares[:, b])
        union |= single.corrupted
    np.testing.assert_array_equal(batch.corrupted, union)


def test_robust_works_on_a_subset_of_shares() -> None:
    # Two paths lost, one corrupted: 5 of 7 shares with t = 3 still correct one error.
    rng = np.random.default_rng(9)
    shares = split(b"subset", 3, 7, rng)
    keep = np.array([0, 2, 3, 5, 6])
    received = shares[keep].copy()
    received[2, 0] ^= 0x40
    res = reconstruct_robust(received, keep + 1, 3)
    assert res.status == "corrected" and res.secret.tobytes() == b"subset"
    assert res.corrupted.tolist() == [False, False, True, False, False]


def test_decoder_alone_can_be_fooled_beyond_the_radius() -> None:
    # Adding the evaluations of g(x) = 1 + x to every share gives a valid codeword of f + g:
    # the code sees nothing and outputs a wrong key, which is why the MAC is needed.
    t, n = 2, 4
    xs = np.arange(1, n + 1, dtype=np.uint8)
    shares = split(b"\x10\x20", t, n, np.random.default_rng(0))
    g = (1 ^ xs)[:, None]  # 1 + x in characteristic 2
    res = reconstruct_robust(shares ^ g, xs, t)
    assert res.status == "ok" and res.secret.tobytes() == b"\x11\x21"


# ------------------------------------------------------------------- authenticated multipath


@FAST
@given(case=sharing_cases(max_n=8), data=st.data())
def test_multipath_never_outputs_a_wrong_key(case, data) -> None:
    key, t, n, seed = case
    rng = np.random.default_rng(seed)
    auth = rng.integers(0, 256, AUTH_KEY_BYTES, dtype=np.uint8)
    n_bad = data.draw(st.integers(0, n))
    bad = rng.choice(n, size=n_bad, replace=False)
    flips = np.zeros((n, len(key) + TAG_BYTES), dtype=np.uint8)
    # bit-flipping relays: each corrupted path flips one random bit in every byte
    flips[bad] = np.left_shift(1, rng.integers(0, 8, size=(n_bad, flips.shape[1]))).astype(np.uint8)
    res = receive_multipath(send_multipath(key, t, n, auth, rng, corrupt=flips), t, auth)
    assert isinstance(res, MultipathResult)
    assert res.key is None or res.key.tobytes() == key  # the right key or nothing
    if n_bad <= (n - t) // 2:
        assert res.status == ("corrected" if n_bad else "ok")
        assert res.key.tobytes() == key and res.n_corrected == n_bad
    if n - n_bad < t:  # fewer than t honest shares
        assert res.status == "failed" and res.key is None and res.n_corrected == 0


def test_multipath_mac_catches_a_codeword_shift() -> None:
    t, n = 2, 4
    rng = np.random.default_rng(1)
    auth = rng.integers(0, 256, AUTH_KEY_BYTES, dtype=np.uint8)
    xs = np.arange(1, n + 1, dtype=np.uint8)
    shift = lambda s: s ^ (1 ^ xs)[:, None]  # noqa: E731 - a Byzantine majority
    sent = send_multipath(b"key material", t, n, auth, rng, corrupt=shift)
    res = receive_multipath(sent, t, auth)
    assert (res.status, res.key, res.failure) == ("failed", None, "authentication")


def test_multipath_decoding_failure_and_lost_paths() -> None:
    rng = np.random.default_rng(2)
    auth = rng.integers(0, 256, AUTH_KEY_BYTES, dtype=np.uint8)
    sent = send_multipath(b"abc", 2, 5, auth, rng)
    # lose paths 2 and 4: three shares with t = 2 still check out
    res = receive_multipath(sent[[0, 2, 4]], 2, auth, xs=[1, 3, 5])
    assert res.status == "ok" and res.key.tobytes() == b"abc"
    # with no correction allowed, one bad share is a detected decoding failure
    bad = sent.copy()
    bad[3, 1] ^= 0x08
    res = receive_multipath(bad, 2, auth, max_corrections=0)
    assert (res.status, res.failure) == ("failed", "decoding")


# ---------------------------------------------------------------------------- authentication


def _reference_tag(message: bytes, auth_key: bytes) -> bytes:
    """Horner evaluation of Eq. (1) with galois GF(2^64) scalars, written independently."""
    field = galois.GF(2**64)
    r = field(int.from_bytes(auth_key[:8], "big"))
    s = int.from_bytes(auth_key[8:], "big")
    padded = message + bytes(-len(message) % 8)
    acc = field(0)
    for i in range(0, len(padded), 8):
        acc = (acc + field(int.from_bytes(padded[i : i + 8], "big"))) * r
    acc = (acc + field(len(message))) * r
    return (int(acc) ^ s).to_bytes(8, "big")


@settings(max_examples=25, deadline=None)
@given(message=st.binary(max_size=40), auth_key=st.binary(min_size=16, max_size=16))
def test_mac_matches_reference_and_rejects_any_bit_flip(message: bytes, auth_key: bytes) -> None:
    tag = poly_mac(message, auth_key)
    assert tag.tobytes() == _reference_tag(message, auth_key)
    assert verify_mac(message, tag, auth_key)
    flipped_tag = tag.copy()
    flipped_tag[0] ^= 0x80
    assert not verify_mac(message, flipped_tag, auth_key)
    if message and int.from_bytes(auth_key[:8], "big") != 0:
        # a change inside one block i shifts the hash by delta * r^(l + 2 - i), nonzero for r != 0
        changed = bytearray(message)
        changed[-1] ^= 0x01
        assert not verify_mac(bytes(changed), tag, auth_key)


def test_mac_rejects_modified_key_and_distinguishes_lengths() -> None:
    rng = np.random.default_rng(3)
    key = rng.integers(0, 256, 32, dtype=np.uint8)
    auth = rng.integers(0, 256, AUTH_KEY_BYTES, dtype=np.uint8)
    tag = poly_mac(key, auth)
    assert verify_mac(key, tag, auth)
    for byte in (0, 13, 31):
        modified = key.copy()
        modified[byte] ^= 0x04
        assert not verify_mac(modified, tag, auth)
    assert not verify_mac(key[:31], tag, auth)
    assert poly_mac(b"", auth).tobytes() != poly_mac(b"\x00", auth).tobytes()


def test_forgery_bound_values() -> None:
    assert forgery_probability(32) == 5 / 2**64  # 4 blocks + length block
    assert forgery_probability(4096) == 513 / 2**64
    np.testing.assert_array_equal(forgery_probability([0, 1, 8, 9]), np.array([1, 2, 2, 3]) / 2**64)
    assert forgery_probability(2**34) <= 2.0**-32  # 16 GiB key
    with pytest.raises(InvalidParameterError, match="'message_bytes'"):
        forgery_probability(-1)


# -------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: split(b"k", 0, 3, np.random.default_rng()), "'t' parameter of split"),
        (lambda: split(b"k", 3, 2, np.random.default_rng()), r"'n' parameter of split.*\[3, 255\]"),
        (lambda: split(b"k", 2, 256, np.random.default_rng()), "'n' parameter of split"),
        (lambda: split(b"k", 2, 3, 42), "'rng' parameter of split"),
        (lambda: split(b"k", 2, 3, np.random.default_rng(), xs=[1, 1, 2]), "'xs'"),
        (lambda: reconstruct(np.zeros((2, 3), np.uint8), [1, 2], 3), "'t' parameter of reconst"),
        (lambda: reconstruct(np.zeros((2, 3), np.uint8), [0, 2], 2), "'xs' parameter"),
        (lambda: reconstruct(b"abc", [1], 1), "'shares' parameter of reconstruct"),
        (
            lambda: reconstruct_robust(np.zeros((5, 3), np.uint8), [1, 2, 3, 4, 5], 2, 2),
            r"'max_corrections'.*\[0, 1\]",
        ),
        (lambda: poly_mac(b"m", bytes(15)), "'auth_key' parameter of poly_mac"),
        (lambda: verify_mac(b"m", bytes(7), bytes(16)), "'tag' parameter of verify_mac"),
        (
            lambda: send_multipath(
                b"k", 2, 3, bytes(16), np.random.default_rng(), np.ones((2, 9), np.uint8)
            ),
            "'corrupt' parameter of send_multipath",
        ),
        (lambda: receive_multipath(np.zeros((3, 4), np.uint8), 2, bytes(16)), "'shares'"),
    ],
)
def test_invalid_arguments_name_the_parameter(call, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=name):
        call()
