"""Shamir (t, n) secret sharing of key bytes over GF(2^8), robust reconstruction, multi-path keys.

Multi-path key forwarding splits a key into ``n`` Shamir shares [1]_, sends each share over a
different (relay) path and rebuilds the key from the shares that arrive. Any ``t - 1`` shares
reveal nothing about the key; any ``t`` rebuild it. For every byte of the key, the share vector
``(f(x_1), ..., f(x_n))`` is a codeword of a Reed-Solomon code of length ``n`` and dimension
``t`` [2]_, so up to ``floor((n - t) / 2)`` shares corrupted by Byzantine relays are corrected
with a batched Berlekamp-Welch decoder [3]_ [4]_ that handles all bytes of the key at once.
Finally, an end-to-end one-time MAC (:mod:`qnetrl.network.authentication`) makes the
receiver output the right key or a failure, never a wrong key. Field arithmetic is that of
``galois.GF(2**8)`` (irreducible polynomial ``x^8 + x^4 + x^3 + x^2 + 1``); its product and
inverse tables are read once from ``galois`` and then indexed with numpy, so one call costs a
handful of vectorised array operations whatever the key length.

References
----------
.. [1] A. Shamir, "How to share a secret", Communications of the ACM 22(11), 612-613 (1979).
   DOI: 10.1145/359168.359176
.. [2] R. J. McEliece and D. V. Sarwate, "On sharing secrets and Reed-Solomon codes",
   Communications of the ACM 24(9), 583-584 (1981). DOI: 10.1145/358746.358762
.. [3] L. R. Welch and E. R. Berlekamp, "Error correction for algebraic block codes",
   US Patent 4,633,470 (1986).
.. [4] P. Gemmell and M. Sudan, "Highly resilient correctors for polynomials", Information
   Processing Letters 43(4), 169-174 (1992).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError
from qnetrl.network.authentication import TAG_BYTES, poly_mac, verify_mac
from qnetrl.network.otp import _as_bytes, _check_int, _check_rng, _short

__all__ = [
    "MAX_SHARES",
    "MultipathResult",
    "RobustReconstruction",
    "receive_multipath",
    "reconstruct",
    "reconstruct_robust",
    "send_multipath",
    "split",
]

#: Largest number of shares: evaluation points are distinct nonzero elements of GF(2^8).
MAX_SHARES: Final[int] = 255

Status = Literal["ok", "corrected", "failed"]


# --------------------------------------------------------------------------------------------
# GF(2^8) arithmetic on raw uint8 arrays (tables from galois)
# --------------------------------------------------------------------------------------------


@functools.cache
def _tables() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Flat 256 x 256 product table and inverse table of ``galois.GF(2**8)``.

    ``mul[(a << 8) | b] = a * b`` and ``inv[a] = 1 / a`` (``inv[0]`` is 0, never used).
    Built on first use so that importing this module does not import ``galois``.
    """
    import galois

    gf = galois.GF(2**8)
    elems = gf(np.arange(256, dtype=np.uint8))
    mul = np.asarray(elems[:, None] * elems[None, :], dtype=np.uint8).ravel()
    inv = np.zeros(256, dtype=np.uint8)
    inv[1:] = np.asarray(np.reciprocal(elems[1:]), dtype=np.uint8)
    mul.flags.writeable = False
    inv.flags.writeable = False
    return mul, inv


def _mul(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Element-wise GF(2^8) product of broadcastable uint8 arrays."""
    mul, _ = _tables()
    return mul[(a.astype(np.intp) << 8) | b]


def _inv(a: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Element-wise GF(2^8) inverse (``a`` must be nonzero)."""
    return _tables()[1][a]


def _matmul(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """GF(2^8) matrix product of (m, k) and (k, L) uint8 arrays (loop over k <= n shares)."""
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.uint8)
    for j in range(a.shape[1]):
        out ^= _mul(a[:, j, None], b[None, j, :])
    return out


def _powers(xs: NDArray[np.uint8], degree: int) -> NDArray[np.uint8]:
    """Vandermonde matrix ``x_i ** j`` for ``j = 0 .. degree - 1``, shape (m, degree)."""
    out = np.empty((xs.size, degree), dtype=np.uint8)
    if degree:
        out[:, 0] = 1
    for j in range(1, degree):
        out[:, j] = _mul(out[:, j - 1], xs)
    return out


def _vandermonde_denominators(xs: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``prod_{j != i} (x_i - x_j)`` for each point, shape (m,)."""
    den = np.ones(xs.size, dtype=np.uint8)
    for j in range(xs.size):
        diff = xs ^ xs[j]
        diff[j] = 1
        den = _mul(den, diff)
    return den


def _lagrange_at_zero(xs: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Lagrange weights ``l_i(0) = prod_{j != i} x_j / (x_j - x_i)``, shape (t,)."""
    num = np.ones(xs.size, dtype=np.uint8)
    for j in range(xs.size):
        factor = np.full(xs.size, xs[j], dtype=np.uint8)
        factor[j] = 1
        num = _mul(num, factor)
    return _mul(num, _inv(_vandermonde_denominators(xs)))


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


def _check_points(xs: Any, m: int, *, owner: str) -> NDArray[np.uint8]:
    """Return evaluation points as uint8 after checking shape (m,), range and distinctness."""
    try:
        arr = np.asarray(xs)
    except (TypeError, ValueError):
        arr = np.asarray(None)
    ok = arr.dtype.kind in "iu" and arr.shape == (m,)
    ok = ok and bool(np.all((arr >= 1) & (arr <= MAX_SHARES)))
    ok = ok and np.unique(arr).size == arr.size
    if not ok:
        raise InvalidParameterError(
            f"The 'xs' parameter of {owner} must be {m} distinct ints in the range "
            f"[1, {MAX_SHARES}] (one nonzero GF(2^8) point per share). Got {_short(xs)} instead."
        )
    return arr.astype(np.uint8)


def _check_shares(shares: Any, *, owner: str) -> NDArray[np.uint8]:
    """Return shares as a 2-D (m, L) uint8 array or raise naming 'shares'."""
    arr = _as_bytes(shares, "shares", owner=owner, min_ndim=2)
    if arr.ndim != 2 or arr.shape[0] > MAX_SHARES:
        raise InvalidParameterError(
            f"The 'shares' parameter of {owner} must be an array of shape (m, L) with m in "
            f"[1, {MAX_SHARES}]. Got shape {arr.shape} instead."
        )
    return arr


def _check_secret(secret: Any, name: str, *, owner: str) -> NDArray[np.uint8]:
    """Return a secret as 1-D uint8 bytes or raise naming ``name``."""
    arr = _as_bytes(secret, name, owner=owner)
    if arr.ndim != 1:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be 1-D bytes. Got shape {arr.shape} instead."
        )
    return arr


# --------------------------------------------------------------------------------------------
# Shamir sharing
# --------------------------------------------------------------------------------------------


def split(
    secret: ArrayLike | bytes,
    t: int,
    n: int,
    rng: np.random.Generator,
    xs: ArrayLike | None = None,
) -> NDArray[np.uint8]:
    """Split a secret into ``n`` Shamir shares, any ``t`` of which rebuild it.

    Parameters
    ----------
    secret : bytes or array_like of uint8, shape (L,)
        Secret bytes (e.g. a key); each byte is shared independently.
    t : int
        Threshold, in ``[1, n]``: shares needed to rebuild; ``t - 1`` shares reveal nothing.
    n : int
        Number of shares, in ``[t, 255]``.
    rng : numpy.random.Generator
        Source of the random polynomial coefficients (``t - 1`` bytes per secret byte).
    xs : array_like of int, shape (n,), optional
        Distinct evaluation points in ``[1, 255]`` (default ``1, 2, ..., n``).

    Returns
    -------
    shares : ndarray of uint8, shape (n, L)
        ``shares[i, b] = f_b(x_i)``, share ``i`` being row ``i``.

    Raises
    ------
    InvalidParameterError
        If ``secret`` is not bytes, ``t`` or ``n`` is out of range, ``rng`` is not a
        Generator, or ``xs`` holds repeated or out-of-range points.

    Notes
    -----
    For each byte ``s_b`` a polynomial over GF(2^8) of degree at most ``t - 1`` is drawn with
    uniform coefficients and constant term ``s_b`` (the construction of [1]_ over a binary
    extension field instead of a prime field):

    .. math::

        f_b(x) = s_b + a_{b,1} x + \\dots + a_{b,t-1} x^{t-1}, \\qquad
        \\mathrm{share}_{i,b} = f_b(x_i),

    computed for all bytes as one Vandermonde product ``V @ [s; a]`` with ``V[i, j] = x_i^j``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> shares = split(b"qkd-key", t=2, n=4, rng=rng)
    >>> shares.shape
    (4, 7)
    >>> bytes(reconstruct(shares[[3, 1]], xs=[4, 2], t=2))
    b'qkd-key'
    """
    owner = "split"
    sec = _check_secret(secret, "secret", owner=owner)
    t = _check_int("t", t, owner=owner, low=1, high=MAX_SHARES)
    n = _check_int("n", n, owner=owner, low=t, high=MAX_SHARES)
    rng = _check_rng(rng, owner=owner)
    points = np.arange(1, n + 1, dtype=np.uint8) if xs is None else None
    points = _check_points(xs, n, owner=owner) if points is None else points
    coeffs = np.empty((t, sec.size), dtype=np.uint8)
    coeffs[0] = sec
    coeffs[1:] = rng.integers(0, 256, size=(t - 1, sec.size), dtype=np.uint8)
    return _matmul(_powers(points, t), coeffs)


def reconstruct(shares: ArrayLike, xs: ArrayLike, t: int) -> NDArray[np.uint8]:
    """Rebuild a secret from ``t`` Shamir shares by Lagrange interpolation at zero.

    Parameters
    ----------
    shares : array_like of uint8, shape (m, L)
        Shares as rows, ``m >= t``; only the first ``t`` rows are used and none is checked
        (use :func:`reconstruct_robust` to check or correct).
    xs : array_like of int, shape (m,)
        Evaluation point of each share (``1 .. n`` for shares made by :func:`split`).
    t : int
        Threshold used when splitting, in ``[1, m]``.

    Returns
    -------
    secret : ndarray of uint8, shape (L,)
        ``sum_i l_i(0) * share_i`` with ``l_i(0) = prod_{j != i} x_j / (x_j - x_i)``.

    Raises
    ------
    InvalidParameterError
        If ``shares`` is not a 2-D byte array, ``xs`` does not hold one distinct point in
        ``[1, 255]`` per share, or ``t`` is out of range.

    Examples
    --------
    >>> shares = split(b"\\x2a", t=3, n=5, rng=np.random.default_rng(1))
    >>> reconstruct(shares[2:], xs=[3, 4, 5], t=3).tolist()
    [42]
    """
    owner = "reconstruct"
    ys = _check_shares(shares, owner=owner)
    points = _check_points(xs, ys.shape[0], owner=owner)
    t = _check_int("t", t, owner=owner, low=1, high=ys.shape[0])
    return _matmul(_lagrange_at_zero(points[:t])[None, :], ys[:t])[0]


@dataclass(frozen=True, slots=True)
class RobustReconstruction:
    """Outcome of :func:`reconstruct_robust`.

    Attributes
    ----------
    status : {"ok", "corrected", "failed"}
        ``"ok"``: the shares form a codeword (no corruption seen); ``"corrected"``: some shares
        were corrupted and corrected; ``"failed"``: too many corruptions were detected.
    secret : ndarray of uint8, shape (L,), or None
        The decoded secret, ``None`` on failure. Beyond the correction radius a decoder can
        miscorrect to a wrong secret, which only an end-to-end MAC detects.
    corrupted : ndarray of bool, shape (m,)
        Shares found corrupted in at least one byte (all ``False`` on failure).
    """

    status: Status
    secret: NDArray[np.uint8] | None
    corrupted: NDArray[np.bool_]

    @property
    def n_corrected(self) -> int:
        """Number of shares that were corrected."""
        return int(np.count_nonzero(self.corrupted))


def _berlekamp_welch(
    ys: NDArray[np.uint8], xs: NDArray[np.uint8], t: int, e: int
) -> tuple[NDArray[np.uint8], NDArray[np.bool_], NDArray[np.bool_]]:
    """Batched Berlekamp-Welch decoding of B received words, one per column of ``ys``.

    Solves ``Q(x_i) = y_i E(x_i)`` for monic ``E`` of degree ``e`` and ``deg Q < e + t`` by
    Gauss-Jordan elimination over GF(2^8), done for all B systems at once (a loop over the
    ``2e + t <= m`` unknowns), then divides ``Q / E``. Returns the secrets ``f(0)``, shape (B,),
    the mask of positions where ``f(x_i) != y_i``, shape (m, B), and which words decoded, (B,).
    """
    m, n_words = ys.shape
    d = e + t
    n_unk = 2 * e + t
    pw = _powers(xs, d)
    y = ys.T  # (B, m)
    sys_ = np.empty((n_words, m, n_unk + 1), dtype=np.uint8)
    sys_[:, :, :d] = pw[None]
    sys_[:, :, d:n_unk] = _mul(y[:, :, None], pw[None, :, :e])
    sys_[:, :, n_unk] = _mul(y, pw[None, :, e])
    used = np.zeros((n_words, m), dtype=bool)
    pivot_row = np.full((n_words, n_unk), -1, dtype=np.intp)
    for c in range(n_unk):
        cand = (sys_[:, :, c] != 0) & ~used
        has = cand.any(axis=1)
        if not has.any():
            continue
        words = np.flatnonzero(has)
        every = words.size == n_words
        sel = slice(None) if every else words  # basic indexing keeps `sub` a view of `sys_`
        rows = cand[words].argmax(axis=1)
        sub = sys_[sel, :, c:]  # a view when every word has a pivot, else a copy
        idx = np.arange(rows.size)
        prow = sub[idx, rows]
        prow = _mul(_inv(prow[:, :1]), prow)
        factor = sub[:, :, 0].copy()
        factor[idx, rows] = 0
        sub ^= _mul(factor[:, :, None], prow[:, None, :])
        sub[idx, rows] = prow
        if not every:
            sys_[sel, :, c:] = sub
        used[words, rows] = True
        pivot_row[words, c] = rows
    rhs = sys_[:, :, n_unk]
    sol = np.take_along_axis(rhs, np.maximum(pivot_row, 0), axis=1)
    sol[pivot_row < 0] = 0  # free unknowns are set to zero
    inconsistent = (rhs.astype(bool) & ~used).any(axis=1)
    q = sol[:, :d].copy()  # ascending coefficients of Q
    err_loc = np.concatenate([sol[:, d:], np.ones((n_words, 1), dtype=np.uint8)], axis=1)
    quot = np.zeros((n_words, t), dtype=np.uint8)
    for deg in range(d - 1, e - 1, -1):  # long division by the monic E, t steps
        lead = q[:, deg]
        quot[:, deg - e] = lead
        q[:, deg - e : deg + 1] ^= _mul(lead[:, None], err_loc)
    not_divisible = q[:, :e].any(axis=1)
    wrong = _matmul(pw[:, :t], quot.T) != ys
    ok = ~(inconsistent | not_divisible | (wrong.sum(axis=0) > e))
    return quot[:, 0], wrong, ok


def reconstruct_robust(
    shares: ArrayLike, xs: ArrayLike, t: int, max_corrections: int | None = None
) -> RobustReconstruction:
    """Rebuild a secret from Shamir shares, correcting or detecting corrupted shares.

    Parameters
    ----------
    shares : array_like of uint8, shape (m, L)
        Shares as received, ``m >= t`` (missing shares are simply left out, with their points).
    xs : array_like of int, shape (m,)
        Evaluation point of each share.
    t : int
        Threshold used when splitting, in ``[1, m]``.
    max_corrections : int, optional
        Correction radius ``e`` in ``[0, floor((m - t) / 2)]`` (default the maximum). A
        smaller radius trades correction for detection: see Notes.

    Returns
    -------
    result : RobustReconstruction
        Status, secret (or ``None``) and the mask of corrected shares.

    Raises
    ------
    InvalidParameterError
        If ``shares`` is not a 2-D byte array, ``xs`` is invalid, or ``t`` or
        ``max_corrections`` is out of range.

    Notes
    -----
    For every byte the received vector ``y = (y_1, ..., y_m)`` is a codeword of the
    generalised Reed-Solomon code ``{(f(x_1), ..., f(x_m)) : deg f < t}`` plus an error [2]_;
    the code has minimum distance ``m - t + 1``. Bytes whose syndrome
    ``S_j = sum_i v_i x_i^j y_i`` (``j < m - t``, ``v_i = 1 / prod_{l != i}(x_i - x_l)``)
    vanishes are codewords and are interpolated directly; the others are decoded together by
    Berlekamp-Welch [3]_ [4]_: find ``E`` monic of degree ``e`` and ``Q`` of degree below
    ``e + t`` with

    .. math::

        Q(x_i) = y_i\\, E(x_i), \\quad i = 1, \\dots, m, \\qquad f = Q / E.

    With at most ``e`` corrupted shares the system is solvable and ``Q / E`` is the sharing
    polynomial. With more than ``e`` but at most ``m - t - e`` corrupted shares, ``y`` lies at
    distance more than ``e`` from every codeword, so the decoder reports ``"failed"``
    (guaranteed detection). With more, it may miscorrect to a wrong secret: an end-to-end MAC
    (:func:`receive_multipath`) is needed to rule that out. With ``m == t`` nothing can be
    checked. Each byte is decoded on its own, so a share corrupted in only some bytes costs
    only those bytes.

    Examples
    --------
    >>> shares = split(b"key", t=2, n=4, rng=np.random.default_rng(2))
    >>> shares[1] ^= 0xFF  # a Byzantine relay flips every bit of share 2
    >>> res = reconstruct_robust(shares, xs=[1, 2, 3, 4], t=2)
    >>> res.status, bytes(res.secret), res.corrupted.tolist()
    ('corrected', b'key', [False, True, False, False])
    """
    owner = "reconstruct_robust"
    ys = _check_shares(shares, owner=owner)
    m = ys.shape[0]
    points = _check_points(xs, m, owner=owner)
    t = _check_int("t", t, owner=owner, low=1, high=m)
    e_max = (m - t) // 2
    e = e_max if max_corrections is None else max_corrections
    e = _check_int("max_corrections", e, owner=owner, low=0, high=e_max)
    den = _vandermonde_denominators(points)
    parity = _mul(_powers(points, m - t).T, _inv(den)[None, :])  # (m - t, m)
    dirty = _matmul(parity, ys).any(axis=0)
    secret = _matmul(_lagrange_at_zero(points[:t])[None, :], ys[:t])[0]
    corrupted = np.zeros(m, dtype=bool)
    if not dirty.any():
        return RobustReconstruction(status="ok", secret=secret, corrupted=corrupted)
    if e == 0:
        return RobustReconstruction(status="failed", secret=None, corrupted=corrupted)
    cols = np.flatnonzero(dirty)
    fixed, wrong, ok = _berlekamp_welch(ys[:, cols], points, t, e)
    if not ok.all():
        return RobustReconstruction(status="failed", secret=None, corrupted=corrupted)
    secret[cols] = fixed
    return RobustReconstruction(status="corrected", secret=secret, corrupted=wrong.any(axis=1))


# --------------------------------------------------------------------------------------------
# authenticated multi-path forwarding
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MultipathResult:
    """Outcome of :func:`receive_multipath`.

    Attributes
    ----------
    status : {"ok", "corrected", "failed"}
        ``"ok"``: every share was intact and the MAC verified; ``"corrected"``: corrupted
        shares were corrected and the MAC verified; ``"failed"``: decoding or the MAC failed.
    key : ndarray of uint8, shape (L,), or None
        The authenticated key, ``None`` on failure. It is never a wrong key, except with
        probability at most :func:`~qnetrl.network.authentication.forgery_probability`.
    n_corrected : int
        Number of corrected shares (0 on failure).
    corrupted : ndarray of bool, shape (m,)
        Which shares were corrected (all ``False`` on failure).
    failure : {"decoding", "authentication"} or None
        What failed, ``None`` on success.
    """

    status: Status
    key: NDArray[np.uint8] | None
    n_corrected: int
    corrupted: NDArray[np.bool_]
    failure: Literal["decoding", "authentication"] | None = None


def send_multipath(
    key: ArrayLike | bytes,
    t: int,
    n: int,
    auth_key: ArrayLike | bytes,
    rng: np.random.Generator,
    corrupt: ArrayLike | Callable[[NDArray[np.uint8]], ArrayLike] | None = None,
) -> NDArray[np.uint8]:
    """Authenticate a key, split it into ``n`` shares and deliver them over ``n`` paths.

    Parameters
    ----------
    key : bytes or array_like of uint8, shape (L,)
        Key to forward.
    t : int
        Threshold, in ``[1, n]``.
    n : int
        Number of disjoint paths (shares), in ``[t, 255]``.
    auth_key : bytes or array_like of uint8, shape (16,)
        Fresh one-time end-to-end authentication key (see
        :func:`~qnetrl.network.authentication.poly_mac`); never reuse it.
    rng : numpy.random.Generator
        Randomness of the sharing polynomials.
    corrupt : array_like of uint8 broadcastable to (n, L + 8), or callable, optional
        Byzantine relays on the paths (default ``None``: all honest). An array is a bit-flip
        mask XORed onto the shares (row ``i`` for path ``i``; zero rows are honest paths); a
        callable maps the (n, L + 8) share array to the delivered one.

    Returns
    -------
    delivered : ndarray of uint8, shape (n, L + 8)
        The shares as they reach the receiver; share ``i`` has evaluation point ``i + 1``.

    Raises
    ------
    InvalidParameterError
        If an argument is out of range or ``corrupt`` has the wrong shape.

    Notes
    -----
    The shared payload is ``key || tag`` with ``tag = poly_mac(key, auth_key)``, so the tag is
    itself secret-shared: fewer than ``t`` paths see nothing of the key or the tag.
    """
    owner = "send_multipath"
    k = _check_secret(key, "key", owner=owner)
    payload = np.concatenate([k, poly_mac(k, auth_key)])
    shares = split(payload, t, n, rng)
    if corrupt is None:
        return shares
    if callable(corrupt):
        out = _as_bytes(corrupt(shares.copy()), "corrupt", owner=owner, min_ndim=2)
        if out.shape != shares.shape:
            raise InvalidParameterError(
                f"The 'corrupt' parameter of {owner} must return an array of shape "
                f"{shares.shape}. Got shape {out.shape} instead."
            )
        return out
    mask = _as_bytes(corrupt, "corrupt", owner=owner, min_ndim=0)
    try:
        return np.bitwise_xor(shares, np.broadcast_to(mask, shares.shape))
    except ValueError:
        raise InvalidParameterError(
            f"The 'corrupt' parameter of {owner} must broadcast to shape {shares.shape} "
            f"(paths, key bytes + {TAG_BYTES}). Got shape {mask.shape} instead."
        ) from None


def receive_multipath(
    shares: ArrayLike,
    t: int,
    auth_key: ArrayLike | bytes,
    xs: ArrayLike | None = None,
    max_corrections: int | None = None,
) -> MultipathResult:
    """Rebuild and authenticate a key sent by :func:`send_multipath`.

    Parameters
    ----------
    shares : array_like of uint8, shape (m, L + 8)
        Shares as received, ``m >= t`` (lost paths are left out, with their points).
    t : int
        Threshold used by the sender, in ``[1, m]``.
    auth_key : bytes or array_like of uint8, shape (16,)
        The sender's one-time authentication key.
    xs : array_like of int, shape (m,), optional
        Evaluation points of the received shares (default ``1 .. m``).
    max_corrections : int, optional
        Correction radius passed to :func:`reconstruct_robust` (default its maximum).

    Returns
    -------
    result : MultipathResult
        Status, key (or ``None``), number of corrected shares and what failed.

    Raises
    ------
    InvalidParameterError
        If an argument is out of range, or the shares are shorter than a tag.

    Notes
    -----
    Robust decoding corrects up to ``floor((m - t) / 2)`` corrupted shares. Whatever the
    corruption, a decoded ``key || tag`` is accepted only if the MAC verifies, so a wrong key
    is output with probability at most ``(ceil(L / 8) + 1) / 2^64``. This holds because the
    decoder's error ``decoded - sent`` depends only on the share errors, which Byzantine
    relays choose without knowing the one-time point ``r``.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> auth = rng.integers(0, 256, 16, dtype=np.uint8)
    >>> flips = np.zeros((5, 12), dtype=np.uint8)
    >>> flips[0] = 0x01  # path 1 is Byzantine
    >>> sent = send_multipath(b"abcd", t=2, n=5, auth_key=auth, rng=rng, corrupt=flips)
    >>> res = receive_multipath(sent, t=2, auth_key=auth)
    >>> res.status, bytes(res.key), res.n_corrected
    ('corrected', b'abcd', 1)
    >>> receive_multipath(sent ^ 0x01, t=2, auth_key=auth).status  # every path corrupted
    'failed'
    """
    owner = "receive_multipath"
    ys = _check_shares(shares, owner=owner)
    if ys.shape[1] < TAG_BYTES:
        raise InvalidParameterError(
            f"The 'shares' parameter of {owner} must hold at least {TAG_BYTES} bytes per share "
            f"(key bytes + {TAG_BYTES}-byte tag). Got {ys.shape[1]} instead."
        )
    m = ys.shape[0]
    points = np.arange(1, m + 1) if xs is None else _check_points(xs, m, owner=owner)
    t = _check_int("t", t, owner=owner, low=1, high=m)
    decoded = reconstruct_robust(ys, points, t, max_corrections)
    none = np.zeros(ys.shape[0], dtype=bool)
    if decoded.secret is None:
        return MultipathResult("failed", None, 0, none, "decoding")
    key, tag = decoded.secret[:-TAG_BYTES], decoded.secret[-TAG_BYTES:]
    if not verify_mac(key, tag, auth_key):
        return MultipathResult("failed", None, 0, none, "authentication")
    return MultipathResult(decoded.status, key.copy(), decoded.n_corrected, decoded.corrupted)
