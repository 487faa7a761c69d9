"""Information-theoretic one-time message authentication of forwarded key material.

A key that crossed relays or was rebuilt from shares must be checked before use: the receiver
should output the right key or a failure, never a wrong key. This module gives the
Wegman-Carter one-time MAC used for that check: the message is hashed with the polynomial
evaluation hash over GF(2^64) (``galois``) under a fresh secret point ``r``, and the hash is
encrypted with a fresh one-time pad ``s``. Both come from an end-to-end pre-shared
authentication key of :data:`AUTH_KEY_BYTES` bytes that must never be reused. The forgery
probability is at most ``(ceil(L / 8) + 1) / 2**64`` for an ``L``-byte message, whatever the
adversary's computing power.
"""

from __future__ import annotations

import functools
import hmac
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError, check_range
from qnetrl.network.otp import _as_bytes

__all__ = [
    "AUTH_KEY_BYTES",
    "MAC_FIELD_BITS",
    "TAG_BYTES",
    "forgery_probability",
    "poly_mac",
    "verify_mac",
]

#: Bits of the MAC field GF(2^k); one hash block holds k / 8 message bytes.
MAC_FIELD_BITS: Final[int] = 64
#: Bytes of one tag (one GF(2^64) element).
TAG_BYTES: Final[int] = MAC_FIELD_BITS // 8
#: Bytes of one one-time authentication key: the hash point r, then the tag pad s.
AUTH_KEY_BYTES: Final[int] = 2 * TAG_BYTES


@functools.cache
def _gf64() -> Any:
    """The field GF(2^64) of ``galois`` (built on first use; importing galois takes ~1 s)."""
    import galois

    return galois.GF(2**MAC_FIELD_BITS)


def _split_auth_key(auth_key: Any, *, owner: str) -> tuple[int, int]:
    """Return the hash point ``r`` and tag pad ``s`` held in a one-time authentication key."""
    key = _as_bytes(auth_key, "auth_key", owner=owner)
    if key.shape != (AUTH_KEY_BYTES,):
        raise InvalidParameterError(
            f"The 'auth_key' parameter of {owner} must be exactly {AUTH_KEY_BYTES} bytes "
            f"(a range of [{AUTH_KEY_BYTES}, {AUTH_KEY_BYTES}]). Got shape {key.shape} instead."
        )
    return (
        int.from_bytes(key[:TAG_BYTES].tobytes(), "big"),
        int.from_bytes(key[TAG_BYTES:].tobytes(), "big"),
    )


def _poly_hash(message: NDArray[np.uint8], r: int) -> int:
    """Polynomial evaluation hash of Eq. (1) (module Notes of :func:`poly_mac`) at ``r``."""
    length = message.size
    n_blocks = -(-length // TAG_BYTES)
    padded = np.zeros(n_blocks * TAG_BYTES, dtype=np.uint8)
    padded[:length] = message
    blocks = padded.view(">u8").tolist()
    field = _gf64()
    # Coefficients in descending powers: m_1 r^(l+1) + ... + m_l r^2 + L r; zero constant term.
    coeffs = field([*blocks, length, 0])
    import galois

    return int(galois.Poly(coeffs, field=field)(field(r)))


def poly_mac(message: ArrayLike | bytes, auth_key: ArrayLike | bytes) -> NDArray[np.uint8]:
    """One-time Wegman-Carter MAC tag of a message (polynomial hash over GF(2^64)).

    Parameters
    ----------
    message : bytes or array_like of uint8, shape (L,)
        Message to authenticate (any length, including 0).
    auth_key : bytes or array_like of uint8, shape (16,)
        Fresh, uniformly random, end-to-end pre-shared authentication key: bytes 0-7 are the
        hash point ``r`` and bytes 8-15 the tag pad ``s`` (big-endian GF(2^64) elements).
        Use each key for one message only.

    Returns
    -------
    tag : ndarray of uint8, shape (8,)
        The tag ``h_r(message) + s`` as 8 big-endian bytes.

    Raises
    ------
    InvalidParameterError
        If ``message`` is not 1-D bytes or ``auth_key`` is not 16 bytes.

    Notes
    -----
    The message is cut into ``l = ceil(L / 8)`` big-endian 64-bit blocks ``m_1 .. m_l`` (the
    last zero-padded) and hashed with the polynomial evaluation hash of [2]_ over
    GF(2^64) (the default ``galois`` field, irreducible polynomial of degree 64):

    .. math::

        h_r(m) = \\sum_{i=1}^{l} m_i\\, r^{\\,l + 2 - i} + L\\, r, \\qquad
        \\mathrm{tag} = h_r(m) + s.                                              \\quad (1)

    The length term makes the encoding injective, so for two distinct messages of at most
    ``l`` blocks ``h_r(m) - h_r(m') - c`` is a nonzero polynomial in ``r`` of degree at most
    ``l + 1`` for every constant ``c``; it has at most ``l + 1`` roots, so the hash is
    ``(l + 1) / 2^64``-almost-XOR-universal. Encrypting the hash with the one-time pad ``s``
    turns it into a Wegman-Carter authenticator [1]_: after seeing one (message, tag) pair, an
    adversary of unbounded power substitutes a different message that verifies with
    probability at most ``(l + 1) / 2^64`` (:func:`forgery_probability`), e.g. ``2^-60`` for a
    32-byte key and below ``2^-32`` for any message under 2^34 bytes (16 GiB). Reusing an
    authentication key voids the bound.

    The hash runs in ``galois``' pure-Python GF(2^64) arithmetic: about 10 us per 8-byte
    block (~6 ms for a 4 KiB message).

    References
    ----------
    .. [1] M. N. Wegman and J. L. Carter, "New hash functions and their use in authentication
       and set equality", Journal of Computer and System Sciences 22(3), 265-279 (1981).
       DOI: 10.1016/0022-0000(81)90033-7
    .. [2] B. den Boer, "A simple and key-economical unconditional authentication scheme",
       Journal of Computer Security 2(1), 65-71 (1993).

    Examples
    --------
    With ``r = 1`` every power of ``r`` is 1, so the hash is the XOR of the blocks and the
    length; with ``r = 0`` the tag is the pad ``s``:

    >>> one = bytes(7) + b"\\x01"
    >>> bytes(poly_mac(b"\\x00" * 7 + b"\\x05", one + bytes(8))).hex()
    '000000000000000d'
    >>> bytes(poly_mac(b"anything", bytes(8) + b"padpadpa")).hex() == b"padpadpa".hex()
    True
    """
    owner = "poly_mac"
    msg = _check_message(message, owner=owner)
    r, s = _split_auth_key(auth_key, owner=owner)
    tag = _poly_hash(msg, r) ^ s
    return np.frombuffer(tag.to_bytes(TAG_BYTES, "big"), dtype=np.uint8).copy()


def _check_message(message: Any, *, owner: str) -> NDArray[np.uint8]:
    """Return ``message`` as 1-D ``uint8`` bytes or raise naming 'message'."""
    msg = _as_bytes(message, "message", owner=owner)
    if msg.ndim != 1:
        raise InvalidParameterError(
            f"The 'message' parameter of {owner} must be 1-D bytes. Got shape {msg.shape} instead."
        )
    return msg


def verify_mac(
    message: ArrayLike | bytes, tag: ArrayLike | bytes, auth_key: ArrayLike | bytes
) -> bool:
    """Check a one-time MAC tag made by :func:`poly_mac`.

    Parameters
    ----------
    message : bytes or array_like of uint8, shape (L,)
        Message as received.
    tag : bytes or array_like of uint8, shape (8,)
        Tag as received.
    auth_key : bytes or array_like of uint8, shape (16,)
        The one-time authentication key the sender used.

    Returns
    -------
    ok : bool
        ``True`` if the tag matches (constant-time comparison), else ``False``.

    Raises
    ------
    InvalidParameterError
        If an argument is not bytes, ``tag`` is not 8 bytes or ``auth_key`` not 16 bytes.

    Examples
    --------
    >>> k = bytes(range(16))
    >>> t = poly_mac(b"secret key", k)
    >>> verify_mac(b"secret key", t, k), verify_mac(b"secret kez", t, k)
    (True, False)
    """
    owner = "verify_mac"
    msg = _check_message(message, owner=owner)
    got = _as_bytes(tag, "tag", owner=owner)
    if got.shape != (TAG_BYTES,):
        raise InvalidParameterError(
            f"The 'tag' parameter of {owner} must be exactly {TAG_BYTES} bytes. "
            f"Got shape {got.shape} instead."
        )
    r, s = _split_auth_key(auth_key, owner=owner)
    want = (_poly_hash(msg, r) ^ s).to_bytes(TAG_BYTES, "big")
    return hmac.compare_digest(want, got.tobytes())


def forgery_probability(message_bytes: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Upper bound on the substitution probability of :func:`poly_mac`.

    Parameters
    ----------
    message_bytes : array_like of int
        Message length (in bytes), in ``[0, inf)``; scalars and arrays are accepted.

    Returns
    -------
    p : ndarray or float
        ``(ceil(L / 8) + 1) / 2**64``, the probability that any message other than the one
        sent verifies (Eq. (1) Notes of :func:`poly_mac`, after [1]_ of that function).

    Raises
    ------
    InvalidParameterError
        If a length is negative or not finite.

    Examples
    --------
    >>> float(forgery_probability(32)) == 5 / 2**64
    True
    >>> bool(forgery_probability(2**34) <= 2**-32)
    True
    """
    length = check_range(
        "message_bytes", message_bytes, owner="forgery_probability", low=0.0, high=None
    )
    if not np.all(np.isfinite(length)):
        raise InvalidParameterError(
            "The 'message_bytes' parameter of forgery_probability must be a float in the range "
            f"[0.0, inf). Got {message_bytes!r} instead."
        )
    p = (np.ceil(length / TAG_BYTES) + 1.0) / 2.0**MAC_FIELD_BITS
    return p[()] if p.ndim == 0 else p
