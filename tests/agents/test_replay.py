"""Tests of the replay buffers: sum-tree invariants, proportional sampling, ring wraparound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from qnetrl._validation import InvalidParameterError
from qnetrl.agents.replay import PrioritizedReplayBuffer, ReplayBuffer, SumTree


@st.composite
def _tree_updates(draw):
    capacity = draw(st.integers(1, 70))
    n_batches = draw(st.integers(1, 6))
    batches = []
    for _ in range(n_batches):
        n = draw(st.integers(1, 2 * capacity))
        idx = draw(st.lists(st.integers(0, capacity - 1), min_size=n, max_size=n))
        vals = draw(
            st.lists(
                st.floats(0.0, 1e3, allow_nan=False, allow_infinity=False), min_size=n, max_size=n
            )
        )
        batches.append((np.array(idx), np.array(vals)))
    return capacity, batches


@settings(max_examples=60, deadline=None)
@given(_tree_updates())
def test_sumtree_total_and_nodes_match_leaves(case):
    capacity, batches = case
    tree = SumTree(capacity)
    ref = np.zeros(capacity)
    for idx, vals in batches:
        tree.update(idx, vals)
        ref[idx] = vals  # same assignment semantics for repeated indices
    np.testing.assert_allclose(tree.total, ref.sum(), rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(tree[np.arange(capacity)], ref)
    np.testing.assert_array_equal(tree.leaves, ref)
    # every internal node is exactly the sum of its two children
    inner = np.arange(1, tree.n_leaves)
    np.testing.assert_array_equal(tree._sum[inner], tree._sum[2 * inner] + tree._sum[2 * inner + 1])


@settings(max_examples=40, deadline=None)
@given(_tree_updates(), st.integers(0, 2**32 - 1))
@example(case=(3, [(np.array([0]), np.array([5e-324]))]), seed=0)  # subnormal total
def test_find_prefix_sum_matches_searchsorted(case, seed):
    capacity, batches = case
    tree = SumTree(capacity)
    ref = np.zeros(capacity)
    for idx, vals in batches:
        tree.update(idx, vals)
        ref[idx] = vals
    if ref.sum() == 0.0:
        return
    cumsum = np.cumsum(ref)
    u = np.random.default_rng(seed).random(64) * cumsum[-1]
    expected = np.minimum(np.searchsorted(cumsum, u, side="right"), capacity - 1)
    got = tree.find_prefix_sum(u)
    # Leaves whose cumulative bounds straddle u up to rounding may differ by a neighbour; compare
    # the chosen leaf's interval instead of the raw index when they disagree.
    agree = got == expected
    lo = np.concatenate([[0.0], cumsum])[got]
    hi = cumsum[got]
    assert np.all(agree | (np.isclose(u, lo) | np.isclose(u, hi)))
    assert np.all(ref[got] > 0.0)


def test_sumtree_sampling_frequencies_match_values():
    values = np.array([1.0, 0.0, 3.0, 6.0, 0.5, 2.5, 7.0])
    tree = SumTree(values.size)
    tree.update(np.arange(values.size), values)
    rng = np.random.default_rng(0)
    draws = np.concatenate([tree.sample(100, rng) for _ in range(2000)])
    counts = np.bincount(draws, minlength=values.size)
    assert counts[1] == 0  # zero value is never drawn
    nz = values > 0
    expected = values[nz] / values.sum() * draws.size
    chi2 = stats.chisquare(counts[nz], expected)
    assert chi2.pvalue > 1e-3, (counts, expected)
    np.testing.assert_allclose(counts / draws.size, values / values.sum(), atol=3e-3)


def test_sumtree_capacity_one_and_errors():
    tree = SumTree(1)
    tree.update([0], [2.0])
    assert tree.total == 2.0
    assert tree.sample(3, np.random.default_rng(0)).tolist() == [0, 0, 0]
    with pytest.raises(InvalidParameterError, match=r"'capacity' parameter of SumTree"):
        SumTree(0)
    with pytest.raises(InvalidParameterError, match=r"'indices' parameter .* \[0, 0\]"):
        tree.update([1], [1.0])
    with pytest.raises(InvalidParameterError, match=r"'values' parameter"):
        tree.update([0], [-1.0])
    with pytest.raises(InvalidParameterError, match="positive total"):
        SumTree(4).sample(2, np.random.default_rng(0))


def _transitions(start: int, n: int, d: int = 2):
    ids = np.arange(start, start + n)
    obs = np.repeat(ids[:, None], d, axis=1).astype(np.float32)
    return obs, ids % 3, ids.astype(np.float32), obs + 0.5, ids % 2 == 0


def test_ring_buffer_wraparound():
    buf = ReplayBuffer(capacity=5, obs_dim=2)
    written = []
    for k in range(4):  # 12 transitions with ids 0..11 through a ring of 5
        written.append(buf.add(*_transitions(3 * k, 3)))
    assert [w.tolist() for w in written] == [[0, 1, 2], [3, 4, 0], [1, 2, 3], [4, 0, 1]]
    assert buf.size == 5 and len(buf) == 5 and buf.pos == 2
    # slot s holds the most recent id with id % 5 == s, i.e. ids 7..11
    ids = np.array([10, 11, 7, 8, 9])
    np.testing.assert_array_equal(buf.rewards, ids)
    np.testing.assert_array_equal(buf.obs[:, 0], ids)
    np.testing.assert_array_equal(buf.next_obs[:, 1], ids + 0.5)
    np.testing.assert_array_equal(buf.actions, ids % 3)
    np.testing.assert_array_equal(buf.terminated, (ids % 2 == 0).astype(np.float32))


def test_uniform_sample_reads_valid_slots_in_place():
    buf = ReplayBuffer(capacity=100, obs_dim=2)
    buf.add(*_transitions(0, 7))
    out = buf.empty_batch(256)
    batch = buf.sample(256, np.random.default_rng(1), out=out)
    assert batch is out
    assert batch.indices.max() < 7
    assert set(batch.indices.tolist()) == set(range(7))
    np.testing.assert_array_equal(batch.rewards, batch.indices)  # rows stay aligned
    np.testing.assert_array_equal(batch.obs[:, 1], batch.indices)
    np.testing.assert_array_equal(batch.weights, 1.0)
    with pytest.raises(InvalidParameterError, match="batch_size=4 rows"):
        buf.sample(4, np.random.default_rng(1), out=out)
    with pytest.raises(InvalidParameterError, match="at least one stored transition"):
        ReplayBuffer(3, 1).sample(2, np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="at most capacity=3"):
        ReplayBuffer(3, 2).add(*_transitions(0, 4))


def test_prioritized_sampling_follows_priorities_and_weights():
    alpha, beta, eps = 0.6, 0.4, 1e-6
    buf = PrioritizedReplayBuffer(capacity=8, obs_dim=2, alpha=alpha, eps=eps)
    buf.add(*_transitions(0, 6))
    np.testing.assert_allclose(buf.tree[np.arange(6)], 1.0)  # new transitions: max priority 1
    td = np.array([0.1, -2.0, 0.5, 0.0, 4.0, -1.0])
    buf.update_priorities(np.arange(6), td)
    p = (np.abs(td) + eps) ** alpha
    probs = p / p.sum()

    rng = np.random.default_rng(7)
    out = buf.empty_batch(64)
    counts = np.zeros(6)
    for _ in range(2000):
        batch = buf.sample(64, rng, beta=beta, out=out)
        counts += np.bincount(batch.indices, minlength=6)
    chi2 = stats.chisquare(counts, probs * counts.sum())
    assert chi2.pvalue > 1e-3, (counts / counts.sum(), probs)

    # importance weights (N P(i))^-beta normalised by the largest weight over the buffer
    batch = buf.sample(64, rng, beta=beta, out=out)
    n = buf.size
    w_all = (n * probs) ** -beta
    np.testing.assert_allclose(batch.weights, w_all[batch.indices] / w_all.max(), rtol=1e-5)
    assert batch.weights.max() <= 1.0
    np.testing.assert_array_equal(batch.rewards, batch.indices)

    # a new transition gets the largest priority seen so far (|-4| + eps)
    assert buf.max_priority == pytest.approx(4.0 + eps)
    (slot,) = buf.add(*_transitions(6, 1))
    assert buf.tree[[slot]][0] == pytest.approx((4.0 + eps) ** alpha)


def test_prioritized_parameter_errors():
    with pytest.raises(InvalidParameterError, match=r"'alpha' parameter .* \[0.0, 1.0\]"):
        PrioritizedReplayBuffer(4, 1, alpha=1.5)
    with pytest.raises(InvalidParameterError, match=r"'eps' parameter .* \(0.0, inf\)"):
        PrioritizedReplayBuffer(4, 1, eps=0.0)
    buf = PrioritizedReplayBuffer(4, 2)
    buf.add(*_transitions(0, 2))
    with pytest.raises(InvalidParameterError, match=r"'beta' parameter .* \[0.0, 1.0\]"):
        buf.sample(2, np.random.default_rng(0), beta=2.0)
    with pytest.raises(InvalidParameterError, match="td_errors"):
        buf.update_priorities([0], [np.nan])
