"""Experience replay for off-policy agents: uniform ring buffer and proportional prioritised replay.

Both buffers store transitions of a vectorised environment in preallocated numpy arrays of shape
(capacity, …) and accept a whole batch of B transitions per call, so that the training loop never
builds Python objects per transition. :class:`PrioritizedReplayBuffer` implements the proportional
variant of prioritised experience replay [1]_ on top of :class:`SumTree`, a flat-array sum-tree
whose batch update loops only over the tree levels and whose
stratified sampling descends all samples at once, level by level.

References
----------
.. [1] T. Schaul, J. Quan, I. Antonoglou and D. Silver, "Prioritized Experience Replay",
   International Conference on Learning Representations (ICLR), 2016. arXiv:1511.05952.
   DOI: 10.48550/arXiv.1511.05952
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qnetrl._validation import InvalidParameterError, check_range

__all__ = ["PrioritizedReplayBuffer", "ReplayBatch", "ReplayBuffer", "SumTree"]


class ReplayBatch(NamedTuple):
    """A minibatch of transitions (row b of every array belongs to the same transition).

    Attributes
    ----------
    obs : ndarray of shape (n, d)
        Observations :math:`s_t`.
    actions : ndarray of shape (n,)
        Discrete actions :math:`a_t` (int64).
    rewards : ndarray of shape (n,)
        Rewards :math:`r_{t+1}` (float32).
    next_obs : ndarray of shape (n, d)
        Observations :math:`s_{t+1}` (the real final observation when the episode ended).
    terminated : ndarray of shape (n,)
        1.0 where :math:`s_{t+1}` is terminal (no bootstrap), else 0.0 (float32); truncation is
        *not* termination.
    weights : ndarray of shape (n,)
        Importance-sampling weights (all ones for uniform replay), float32.
    indices : ndarray of shape (n,)
        Buffer slots the rows were read from (int64), for priority updates.
    """

    obs: NDArray[np.float32]
    actions: NDArray[np.int64]
    rewards: NDArray[np.float32]
    next_obs: NDArray[np.float32]
    terminated: NDArray[np.float32]
    weights: NDArray[np.float32]
    indices: NDArray[np.int64]


def _check_int(name: str, value: int, *, owner: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )
    return int(value)


class SumTree:
    """Flat-array sum-tree over ``capacity`` non-negative leaf values.

    The tree is stored heap-style in one array of length ``2 * n_leaves`` (``n_leaves`` is
    ``capacity`` rounded up to a power of two): node ``k`` has children ``2k`` and ``2k + 1``, the
    root is node 1 and leaf ``i`` is node ``n_leaves + i``. Unused leaves hold 0.

    Parameters
    ----------
    capacity : int
        Number of leaves that can hold values (at least 1).

    Attributes
    ----------
    capacity : int
        Number of usable leaves.
    n_leaves : int
        Number of leaves of the complete binary tree (a power of two, at least ``capacity``).
    depth : int
        Number of levels below the root, ``log2(n_leaves)``.

    Examples
    --------
    >>> tree = SumTree(5)
    >>> tree.update([0, 3, 4], [1.0, 2.0, 0.5])
    >>> tree.total
    3.5
    >>> tree.find_prefix_sum([0.2, 1.5, 3.2]).tolist()
    [0, 3, 4]
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = _check_int("capacity", capacity, owner="SumTree", low=1)
        self.depth = max(0, int(np.ceil(np.log2(self.capacity))))
        self.n_leaves = 1 << self.depth
        self._sum = np.zeros(2 * self.n_leaves, dtype=np.float64)

    @property
    def total(self) -> float:
        """Sum of all leaf values."""
        return float(self._sum[1])

    @property
    def leaves(self) -> NDArray[np.float64]:
        """Read-only view of the ``capacity`` leaf values."""
        view = self._sum[self.n_leaves : self.n_leaves + self.capacity]
        view.flags.writeable = False
        return view

    def __getitem__(self, indices: ArrayLike) -> NDArray[np.float64]:
        """Leaf values at ``indices`` (int array_like)."""
        return self._sum[np.asarray(indices, dtype=np.int64) + self.n_leaves]

    def update(self, indices: ArrayLike, values: ArrayLike) -> None:
        """Set the leaves ``indices`` to ``values`` and refresh their ancestors.

        Parameters
        ----------
        indices : array_like of int, shape (n,)
            Leaf indices in ``[0, capacity)``. Repeated indices keep the last value.
        values : array_like of float, shape (n,) or scalar
            Non-negative finite leaf values; a scalar broadcasts.

        Notes
        -----
        The loop runs over the ``depth`` tree levels, never over the ``n`` updated leaves: each
        level recomputes all touched parents from their two children at once. Touched parents may
        repeat; they are all assigned the same (correct) value, so no deduplication is needed.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        vals = np.broadcast_to(np.asarray(values, dtype=np.float64), idx.shape)
        if idx.size == 0:
            return
        if idx.min() < 0 or idx.max() >= self.capacity:
            raise InvalidParameterError(
                f"The 'indices' parameter of SumTree.update must hold ints in the range "
                f"[0, {self.capacity - 1}]. Got {idx[(idx < 0) | (idx >= self.capacity)][0]} "
                "instead."
            )
        check_range(
            "values", vals, owner="SumTree.update", low=0.0, high=np.inf, high_inclusive=False
        )
        self._update(idx, vals)

    def _update(self, idx: NDArray[np.int64], vals: NDArray[np.float64] | float) -> None:
        """:meth:`update` without argument checks (for callers that guarantee them)."""
        tree = self._sum
        node = idx + self.n_leaves
        tree[node] = vals
        for _ in range(self.depth):
            node >>= 1
            left = node << 1
            tree[node] = tree[left] + tree[left | 1]

    def find_prefix_sum(self, prefix: ArrayLike) -> NDArray[np.int64]:
        """Leaf indices ``i`` with ``cumsum[i-1] <= prefix < cumsum[i]``, all descended at once.

        Parameters
        ----------
        prefix : array_like of float, shape (n,)
            Values in ``[0, total)``; values outside are clipped into that range (the top by a
            relative margin of 1e-12).

        Returns
        -------
        ndarray of shape (n,)
            Leaf indices (int64); never a zero-valued leaf.
        """
        tree = self._sum
        u = np.array(prefix, dtype=np.float64, copy=True).reshape(-1)
        # The margin (far above the ~depth * 1e-16 relative rounding of the node sums) keeps
        # every descent inside the non-zero mass, so no per-level empty-subtree check is needed.
        top = min(tree[1] * (1.0 - 1e-12), np.nextafter(tree[1], 0.0))
        np.clip(u, 0.0, max(top, 0.0), out=u)
        node = np.ones(u.shape, dtype=np.int64)
        for _ in range(self.depth):
            node <<= 1
            left_sum = tree[node]
            go_right = u >= left_sum
            u -= left_sum * go_right
            node += go_right
        return np.minimum(node - self.n_leaves, self.capacity - 1)

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
        """Stratified sample of ``n`` leaves with probability proportional to their values.

        The range ``[0, total)`` is split into ``n`` equal segments and one point is drawn
        uniformly in each, as in Appendix B.2.1 of [1]_ (module references).

        Parameters
        ----------
        n : int
            Number of samples (at least 1).
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        ndarray of shape (n,)
            Leaf indices (int64).
        """
        n = _check_int("n", n, owner="SumTree.sample", low=1)
        total = self._sum[1]
        if not total > 0.0:
            raise InvalidParameterError(
                "SumTree.sample needs a positive total; the tree holds no positive value."
            )
        points = (np.arange(n, dtype=np.float64) + rng.random(n)) * (total / n)
        return self.find_prefix_sum(points)


class ReplayBuffer:
    """Uniform experience replay: a ring buffer of preallocated numpy arrays.

    Parameters
    ----------
    capacity : int
        Maximum number of stored transitions; the oldest are overwritten first.
    obs_dim : int
        Length ``d`` of a (flat) observation.

    Attributes
    ----------
    obs, next_obs : ndarray of shape (capacity, obs_dim)
        Stored observations (float32).
    actions : ndarray of shape (capacity,)
        Stored actions (int64).
    rewards, terminated : ndarray of shape (capacity,)
        Stored rewards and termination flags (float32).
    size : int
        Number of valid transitions, ``min(added, capacity)``.
    pos : int
        Slot the next transition is written to.

    Examples
    --------
    >>> buf = ReplayBuffer(capacity=3, obs_dim=1)
    >>> idx = buf.add(np.zeros((2, 1)), [0, 1], [1.0, 2.0], np.ones((2, 1)), [False, True])
    >>> idx = buf.add(np.zeros((2, 1)), [1, 0], [3.0, 4.0], np.ones((2, 1)), [False, False])
    >>> idx.tolist(), buf.size, buf.rewards.tolist()
    ([2, 0], 3, [4.0, 2.0, 3.0])
    """

    def __init__(self, capacity: int, obs_dim: int) -> None:
        owner = type(self).__name__
        self.capacity = _check_int("capacity", capacity, owner=owner, low=1)
        self.obs_dim = _check_int("obs_dim", obs_dim, owner=owner, low=1)
        self.obs = np.zeros((self.capacity, self.obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((self.capacity, self.obs_dim), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.size = 0
        self.pos = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: ArrayLike,
        actions: ArrayLike,
        rewards: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
    ) -> NDArray[np.int64]:
        """Store a batch of B transitions (one per sub-environment) and return their slots.

        Parameters
        ----------
        obs, next_obs : array_like of shape (B, d)
            Observations before and after the step; ``next_obs`` must be the real final
            observation for sub-environments whose episode ended.
        actions : array_like of shape (B,)
            Discrete actions taken.
        rewards : array_like of shape (B,)
            Rewards received.
        terminated : array_like of shape (B,)
            True where the episode terminated (truncation is not termination).

        Returns
        -------
        ndarray of shape (B,)
            Slots written (int64), wrapping around the end of the ring.
        """
        actions = np.asarray(actions)
        n = actions.shape[0] if actions.ndim else 1
        if n > self.capacity:
            raise InvalidParameterError(
                f"The batch of {type(self).__name__}.add must hold at most capacity="
                f"{self.capacity} transitions. Got {n} instead."
            )
        idx = (self.pos + np.arange(n, dtype=np.int64)) % self.capacity
        self.obs[idx] = obs
        self.next_obs[idx] = next_obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.terminated[idx] = terminated
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        return idx

    def empty_batch(self, batch_size: int) -> ReplayBatch:
        """Preallocated arrays for :meth:`sample`'s ``out`` argument."""
        n = _check_int("batch_size", batch_size, owner=f"{type(self).__name__}.empty_batch", low=1)
        return ReplayBatch(
            obs=np.zeros((n, self.obs_dim), dtype=np.float32),
            actions=np.zeros(n, dtype=np.int64),
            rewards=np.zeros(n, dtype=np.float32),
            next_obs=np.zeros((n, self.obs_dim), dtype=np.float32),
            terminated=np.zeros(n, dtype=np.float32),
            weights=np.ones(n, dtype=np.float32),
            indices=np.zeros(n, dtype=np.int64),
        )

    def _gather(self, idx: NDArray[np.int64], out: ReplayBatch | None) -> ReplayBatch:
        if out is None:
            out = self.empty_batch(idx.shape[0])
        np.take(self.obs, idx, axis=0, out=out.obs)
        np.take(self.next_obs, idx, axis=0, out=out.next_obs)
        np.take(self.actions, idx, out=out.actions)
        np.take(self.rewards, idx, out=out.rewards)
        np.take(self.terminated, idx, out=out.terminated)
        out.indices[:] = idx
        return out

    def _check_sample(self, batch_size: int, out: ReplayBatch | None) -> int:
        owner = f"{type(self).__name__}.sample"
        n = _check_int("batch_size", batch_size, owner=owner, low=1)
        if self.size == 0:
            raise InvalidParameterError(f"{owner} needs at least one stored transition.")
        if out is not None and out.actions.shape[0] != n:
            raise InvalidParameterError(
                f"The 'out' parameter of {owner} must hold batch_size={n} rows. "
                f"Got {out.actions.shape[0]} instead."
            )
        return n

    def sample(
        self, batch_size: int, rng: np.random.Generator, *, out: ReplayBatch | None = None
    ) -> ReplayBatch:
        """Draw ``batch_size`` stored transitions uniformly with replacement.

        Parameters
        ----------
        batch_size : int
            Number of transitions.
        rng : numpy.random.Generator
            Source of randomness.
        out : ReplayBatch, optional
            Preallocated batch (from :meth:`empty_batch`) to fill in place; avoids allocation.

        Returns
        -------
        ReplayBatch
            The batch (``out`` itself when given); ``weights`` are all ones.
        """
        n = self._check_sample(batch_size, out)
        idx = rng.integers(0, self.size, size=n, dtype=np.int64)
        batch = self._gather(idx, out)
        batch.weights[:] = 1.0
        return batch


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritised experience replay of Schaul et al. [1]_ (module references).

    Transition :math:`i` is sampled with probability
    :math:`P(i) = p_i^\\alpha / \\sum_k p_k^\\alpha` (Eq. 1 of [1]_), where the priority is
    :math:`p_i = |\\delta_i| + \\epsilon` from its last TD error. New transitions get the largest
    priority seen so far, so each is replayed at least once with high probability. The bias is
    corrected with importance-sampling weights :math:`w_i = (N P(i))^{-\\beta}`, normalised by
    the largest weight in the buffer, :math:`\\max_j w_j = (N \\min_j P(j))^{-\\beta}` (Sec. 3.4
    of [1]_), so weights only scale updates down.

    Parameters
    ----------
    capacity : int
        Maximum number of stored transitions.
    obs_dim : int
        Length ``d`` of a (flat) observation.
    alpha : float, default=0.6
        Prioritisation exponent :math:`\\alpha` in [0, 1] (0 = uniform; 0.6 is the proportional
        variant's value in Table 3 of [1]_).
    eps : float, default=1e-6
        Small positive constant :math:`\\epsilon` added to :math:`|\\delta|`.

    Attributes
    ----------
    tree : SumTree
        Holds :math:`p_i^\\alpha` for every stored slot.
    max_priority : float
        Largest priority :math:`p_i` (before the exponent) seen so far; starts at 1.
    """

    def __init__(
        self, capacity: int, obs_dim: int, *, alpha: float = 0.6, eps: float = 1e-6
    ) -> None:
        super().__init__(capacity, obs_dim)
        owner = type(self).__name__
        self.alpha = float(check_range("alpha", alpha, owner=owner, low=0.0, high=1.0))
        self.eps = float(
            check_range(
                "eps",
                eps,
                owner=owner,
                low=0.0,
                high=np.inf,
                low_inclusive=False,
                high_inclusive=False,
            )
        )
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0

    def add(
        self,
        obs: ArrayLike,
        actions: ArrayLike,
        rewards: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
    ) -> NDArray[np.int64]:
        """Store a batch of transitions with the maximal priority (see :meth:`ReplayBuffer.add`)."""
        idx = super().add(obs, actions, rewards, next_obs, terminated)
        self.tree._update(idx, self.max_priority**self.alpha)
        return idx

    def sample(
        self,
        batch_size: int,
        rng: np.random.Generator,
        *,
        beta: float = 0.4,
        out: ReplayBatch | None = None,
    ) -> ReplayBatch:
        """Stratified proportional sample with normalised importance-sampling weights.

        Parameters
        ----------
        batch_size : int
            Number of transitions.
        rng : numpy.random.Generator
            Source of randomness.
        beta : float, default=0.4
            Importance-sampling exponent :math:`\\beta` in [0, 1] (annealed to 1 by the trainer).
        out : ReplayBatch, optional
            Preallocated batch to fill in place.

        Returns
        -------
        ReplayBatch
            The batch with ``weights`` :math:`w_i / \\max_j w_j` in (0, 1].
        """
        n = self._check_sample(batch_size, out)
        check_range("beta", beta, owner=f"{type(self).__name__}.sample", low=0.0, high=1.0)
        idx = self.tree.sample(n, rng)
        batch = self._gather(idx, out)
        # w_i / max_j w_j = (P(i) / min_j P(j))^-beta = (p_i^a / min_j p_j^a)^-beta. The minimum
        # is a scan of the stored leaves: ~10 us for 1e5 slots, cheaper than keeping a min-tree
        # up to date on every add and priority update.
        min_leaf = self.tree.leaves[: self.size].min()
        np.power(self.tree[idx] / min_leaf, -beta, out=batch.weights, casting="unsafe")
        return batch

    def update_priorities(self, indices: ArrayLike, td_errors: ArrayLike) -> None:
        """Set :math:`p_i = |\\delta_i| + \\epsilon` for the sampled slots.

        Parameters
        ----------
        indices : array_like of int, shape (n,)
            Slots from :attr:`ReplayBatch.indices`.
        td_errors : array_like of float, shape (n,)
            TD errors :math:`\\delta_i` of those transitions.
        """
        priorities = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.eps
        if not np.all(np.isfinite(priorities)):
            raise InvalidParameterError(
                "The 'td_errors' parameter of PrioritizedReplayBuffer.update_priorities must be "
                "a float in the range (-inf, inf). Got a non-finite value instead."
            )
        self.max_priority = max(self.max_priority, float(priorities.max(initial=0.0)))
        idx = np.asarray(indices, dtype=np.int64)
        if idx.shape != priorities.shape:
            raise InvalidParameterError(
                "The 'indices' and 'td_errors' parameters of "
                f"PrioritizedReplayBuffer.update_priorities must have the same shape. Got "
                f"{idx.shape} and {priorities.shape} instead."
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.size):
            raise InvalidParameterError(
                "The 'indices' parameter of PrioritizedReplayBuffer.update_priorities must hold "
                f"ints in the range [0, {self.size - 1}]. Got {idx.min()}..{idx.max()} instead."
            )
        self.tree._update(idx, priorities**self.alpha)
