"""One-time-pad encryption of key material and trusted-relay (hop-by-hop) key forwarding.

A QKD network without end-to-end quantum links moves a key ``K`` from its source to its
destination through trusted relays: on every hop the current holder encrypts ``K`` with a
one-time pad drawn from the key pool of that link, and the next node decrypts it, so each
relay sees ``K`` in the clear and every hop consumes exactly ``|K|`` bytes of pad. This module
works on real bytes, held as numpy ``uint8`` arrays, and never on byte counters: encryption is a
vectorised XOR, hop-by-hop forwarding is simulated for all hops of a path at once, and a
Byzantine relay is modelled by a bit-flip mask (or a callback) applied to the material it
relays. It also holds the byte and integer argument checks shared by the other key-material
modules of :mod:`qnetrl.network`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError

__all__ = ["RelayResult", "otp_decrypt", "otp_encrypt", "relay_hop_by_hop"]

#: Type of a per-hop tamper callback: ``tamper(hop, material) -> material``.
TamperCallback = Callable[[int, NDArray[np.uint8]], ArrayLike]


def _as_bytes(value: Any, name: str, *, owner: str, min_ndim: int = 1) -> NDArray[np.uint8]:
    """Return ``value`` as a ``uint8`` array of at least ``min_ndim`` dimensions.

    Accepts ``bytes``, ``bytearray``, ``memoryview`` and integer (or boolean) array-likes whose
    elements lie in ``[0, 255]``; anything else raises :class:`InvalidParameterError` naming
    ``name``.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        arr = np.frombuffer(bytes(value), dtype=np.uint8)
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            arr = np.asarray(None)
        if arr.dtype == np.uint8:
            pass
        elif arr.dtype.kind in "iub" and arr.size and (arr.min() < 0 or arr.max() > 255):
            arr = np.asarray(None)  # out of range: fall through to the error below
        elif arr.dtype.kind in "iub":
            arr = arr.astype(np.uint8)
        elif arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.uint8)  # np.asarray([]) is float64; an empty key is still bytes
    if arr.dtype != np.uint8 or arr.ndim < min_ndim:
        dims = "1-D" if min_ndim == 1 else f"{min_ndim}-D"
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be bytes or an (at least {dims}) array of "
            f"integers in the range [0, 255]. Got {_short(value)} instead."
        )
    return arr


def _short(value: Any) -> str:
    """``repr`` of ``value`` cut to 60 characters for error messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_int(name: str, value: Any, *, owner: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer in ``[low, high]``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)
    ok = ok and int(value) >= low and (high is None or int(value) <= high)
    if not ok:
        upper = "inf)" if high is None else f"{high}]"
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, {upper}. "
            f"Got {_short(value)} instead."
        )
    return int(value)


def _check_rng(rng: Any, *, owner: str) -> np.random.Generator:
    """Return ``rng`` if it is a :class:`numpy.random.Generator`, else raise."""
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"The 'rng' parameter of {owner} must be a numpy.random.Generator. "
            f"Got {_short(rng)} instead."
        )
    return rng


def _check_pad(message: NDArray[np.uint8], pad: Any, *, owner: str) -> NDArray[np.uint8]:
    """Return the first ``message.shape[-1]`` bytes of ``pad`` after checking its length."""
    pad_arr = _as_bytes(pad, "pad", owner=owner)
    need = message.shape[-1]
    if pad_arr.shape[-1] < need:
        raise InvalidParameterError(
            f"The 'pad' parameter of {owner} must hold at least {need} bytes (one per message "
            f"byte, a range of [{need}, inf) bytes). Got {pad_arr.shape[-1]} bytes instead."
        )
    return pad_arr[..., :need]


def otp_encrypt(message: ArrayLike | bytes, pad: ArrayLike | bytes) -> NDArray[np.uint8]:
    """Encrypt bytes with a one-time pad (Vernam cipher).

    Parameters
    ----------
    message : bytes or array_like of uint8, shape (..., L)
        Plaintext bytes; a leading batch shape is allowed.
    pad : bytes or array_like of uint8, shape (..., P) with P >= L
        Uniformly random pad bytes, used once; only the first ``L`` bytes of the last axis are
        consumed, and the leading shape broadcasts against ``message``.

    Returns
    -------
    ciphertext : ndarray of uint8, shape (..., L)
        ``message XOR pad[..., :L]``.

    Raises
    ------
    InvalidParameterError
        If an argument is not bytes, or ``pad`` is shorter than ``message``.

    Notes
    -----
    With a uniformly random pad used once, the ciphertext is independent of the message
    (perfect secrecy, [1]_). The cipher is malleable: flipping a ciphertext bit flips the same
    plaintext bit, which is why forwarded keys need an integrity check (see
    :mod:`qnetrl.network.authentication`).

    References
    ----------
    .. [1] C. E. Shannon, "Communication theory of secrecy systems", Bell System Technical
       Journal 28(4), 656-715 (1949). DOI: 10.1002/j.1538-7305.1949.tb00928.x

    Examples
    --------
    >>> c = otp_encrypt(b"key!", b"\\x01\\x02\\x03\\x04\\x05")
    >>> bytes(otp_decrypt(c, b"\\x01\\x02\\x03\\x04\\x05"))
    b'key!'
    """
    msg = _as_bytes(message, "message", owner="otp_encrypt")
    return np.bitwise_xor(msg, _check_pad(msg, pad, owner="otp_encrypt"))


def otp_decrypt(ciphertext: ArrayLike | bytes, pad: ArrayLike | bytes) -> NDArray[np.uint8]:
    """Decrypt one-time-pad ciphertext (the inverse of :func:`otp_encrypt`).

    Parameters
    ----------
    ciphertext : bytes or array_like of uint8, shape (..., L)
        Ciphertext bytes.
    pad : bytes or array_like of uint8, shape (..., P) with P >= L
        The pad used for encryption; only its first ``L`` bytes are read.

    Returns
    -------
    plaintext : ndarray of uint8, shape (..., L)
        ``ciphertext XOR pad[..., :L]``.

    Raises
    ------
    InvalidParameterError
        If an argument is not bytes, or ``pad`` is shorter than ``ciphertext``.
    """
    cip = _as_bytes(ciphertext, "ciphertext", owner="otp_decrypt")
    return np.bitwise_xor(cip, _check_pad(cip, pad, owner="otp_decrypt"))


class RelayResult(NamedTuple):
    """Outcome of :func:`relay_hop_by_hop`.

    Attributes
    ----------
    key : ndarray of uint8, shape (L,)
        The key as decrypted by the last node of the path.
    pad_bytes : ndarray of int64, shape (H,)
        One-time-pad bytes consumed on each hop (always ``L``).
    ciphertexts : ndarray of uint8, shape (H, L)
        What travelled over each link: all an eavesdropper on that link sees.
    """

    key: NDArray[np.uint8]
    pad_bytes: NDArray[np.int64]
    ciphertexts: NDArray[np.uint8]


def _stack_pads(hop_pads: Any, length: int) -> NDArray[np.uint8]:
    """Return the per-hop pads as an (H, length) array, checking each is long enough."""
    owner = "relay_hop_by_hop"
    if isinstance(hop_pads, np.ndarray) or not isinstance(hop_pads, Sequence):
        pads = _as_bytes(hop_pads, "hop_pads", owner=owner, min_ndim=2)
        if pads.ndim != 2:
            raise InvalidParameterError(
                f"The 'hop_pads' parameter of {owner} must be an array of shape (H, P) or a "
                f"sequence of H pads. Got an array of shape {pads.shape} instead."
            )
        rows: Sequence[NDArray[np.uint8]] = list(pads)
    else:
        rows = [_as_bytes(p, "hop_pads", owner=owner) for p in hop_pads]
    if any(r.ndim != 1 for r in rows):
        raise InvalidParameterError(
            f"The 'hop_pads' parameter of {owner} must hold one 1-D pad per hop. "
            f"Got pads of {sorted({r.ndim for r in rows})} dimensions instead."
        )
    short = [h for h, r in enumerate(rows) if r.size < length]
    if short:
        h = short[0]
        raise InvalidParameterError(
            f"The 'hop_pads' parameter of {owner} must give every hop a pad of at least "
            f"{length} bytes (the key length, a range of [{length}, inf) bytes). Got "
            f"{rows[h].size} bytes on hop {h} instead."
        )
    if not rows:
        return np.zeros((0, length), dtype=np.uint8)
    return np.stack([r[:length] for r in rows])


def relay_hop_by_hop(
    key: ArrayLike | bytes,
    hop_pads: ArrayLike | Sequence[ArrayLike | bytes],
    tamper: ArrayLike | TamperCallback | None = None,
) -> RelayResult:
    """Forward a key along a path of trusted relays, one one-time pad per hop.

    Node ``h`` (``h = 0`` is the source) holds the key in the clear, encrypts it with the pad
    of hop ``h`` and sends it; node ``h + 1`` decrypts it with the same pad. Every hop consumes
    ``|K|`` pad bytes, so a path of ``H`` hops costs ``H * |K|`` bytes of link key.

    Parameters
    ----------
    key : bytes or array_like of uint8, shape (L,)
        Key held by the source node.
    hop_pads : array_like of uint8, shape (H, P), or sequence of H pads
        One-time pad shared by the two ends of each hop, each at least ``L`` bytes long (only
        the first ``L`` bytes are consumed). ``H = 0`` (source = destination) is allowed.
    tamper : array_like of uint8 broadcastable to (H, L), or callable, optional
        Byzantine relays (default ``None``: every relay is honest).

        - an array: ``tamper[h]`` is XORed onto the material node ``h`` relays over hop ``h``
          (zero rows are honest hops). Because the one-time pad is malleable this is the same
          whether the relay flips plaintext bits before re-encrypting or a wiretapper flips
          ciphertext bits on the link.
        - a callable ``tamper(h, material) -> material``: called on each hop in order with the
          plaintext node ``h`` is about to encrypt; it returns what the node actually sends
          (``L`` bytes).

    Returns
    -------
    result : RelayResult
        ``(key, pad_bytes, ciphertexts)``: the key decrypted by the last node, the pad bytes
        consumed per hop, shape (H,), and the ciphertext on each hop, shape (H, L).

    Raises
    ------
    InvalidParameterError
        If ``key`` or a pad is not bytes, a pad is shorter than the key, ``tamper`` has the
        wrong shape, or the callback returns the wrong number of bytes.

    Notes
    -----
    With masks ``d_h`` the plaintext leaving node ``h`` is
    ``K XOR d_0 XOR ... XOR d_h`` and the ciphertext on hop ``h`` is that value XOR the pad,
    so the whole path is computed at once with a cumulative XOR over hops. Trusted relaying
    and its per-hop key cost follow the SECOQC network design of [1]_.

    References
    ----------
    .. [1] M. Peev et al., "The SECOQC quantum key distribution network in Vienna", New
       Journal of Physics 11(7), 075001 (2009). DOI: 10.1088/1367-2630/11/7/075001

    Examples
    --------
    >>> pads = np.array([[1, 2, 3], [7, 7, 7]], dtype=np.uint8)
    >>> res = relay_hop_by_hop(b"abc", pads)
    >>> bytes(res.key), res.pad_bytes.tolist()
    (b'abc', [3, 3])
    >>> bytes(relay_hop_by_hop(b"abc", pads, tamper=[[0, 0, 0], [1, 0, 0]]).key)
    b'`bc'
    """
    owner = "relay_hop_by_hop"
    k = _as_bytes(key, "key", owner=owner)
    if k.ndim != 1:
        raise InvalidParameterError(
            f"The 'key' parameter of {owner} must be 1-D bytes. Got shape {k.shape} instead."
        )
    length = k.size
    pads = _stack_pads(hop_pads, length)
    n_hops = pads.shape[0]
    pad_bytes = np.full(n_hops, length, dtype=np.int64)
    if callable(tamper):
        sent = np.empty((n_hops, length), dtype=np.uint8)
        held = k.copy()
        for h in range(n_hops):  # a callback may depend on what it sees: hops run in order
            out = _as_bytes(tamper(h, held.copy()), "tamper", owner=owner)
            if out.shape != (length,):
                raise InvalidParameterError(
                    f"The 'tamper' parameter of {owner} must return {length} bytes per hop. "
                    f"Got shape {out.shape} on hop {h} instead."
                )
            sent[h] = out
            held = otp_decrypt(otp_encrypt(out, pads[h]), pads[h])
    else:
        if tamper is None:
            masks = np.zeros((n_hops, length), dtype=np.uint8)
        else:
            masks = _as_bytes(tamper, "tamper", owner=owner)
            try:
                masks = np.broadcast_to(masks, (n_hops, length))
            except ValueError:
                raise InvalidParameterError(
                    f"The 'tamper' parameter of {owner} must broadcast to shape "
                    f"({n_hops}, {length}) (hops, key bytes). Got shape {masks.shape} instead."
                ) from None
        sent = np.bitwise_xor(k, np.bitwise_xor.accumulate(masks, axis=0))
    ciphertexts = otp_encrypt(sent, pads)
    received = otp_decrypt(ciphertexts[-1], pads[-1]) if n_hops else k.copy()
    return RelayResult(key=received, pad_bytes=pad_bytes, ciphertexts=ciphertexts)
