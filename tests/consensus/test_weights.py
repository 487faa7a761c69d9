"""Weighted quorums and evidence-driven weights: arithmetic, intersection, framing, clamping."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qnetrl._validation import InvalidParameterError
from qnetrl.consensus.messages import (
    Commit,
    Keyring,
    Operation,
    Prepare,
    PrePrepare,
    digest,
    link_statement,
    path_statement,
)
from qnetrl.consensus.pbft import framing_operations
from qnetrl.consensus.weights import (
    CLAMP_STEPS,
    WeightedQuorum,
    attribute_faults,
    clamp_weights,
    collect_evidence,
    faulty_weight,
    is_admissible,
    quorum_threshold,
    update_weights,
    weight_schedule,
)

FAST = settings(max_examples=25, deadline=None)
KEYS = Keyring(12, seed=7)


# ---------------------------------------------------------------------------------------------
# Quorum arithmetic
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", [1, 2, 3, 5])
def test_equal_weights_reduce_to_pbft_counts(f: int) -> None:
    n = 3 * f + 1
    q = WeightedQuorum([1] * n, f)
    assert (q.total, q.faulty_weight, q.threshold, q.certificate_threshold) == (
        n,
        f,
        2 * f + 1,
        f + 1,
    )
    q100 = WeightedQuorum([100] * n, f)
    assert q100.threshold == (100 * n + 100 * f) // 2 + 1
    assert q100.is_quorum(range(2 * f + 1)) and not q100.is_quorum(range(2 * f))


def test_faulty_weight_and_threshold_broadcast_over_a_batch() -> None:
    w = np.array([[5, 1, 3, 2], [1, 1, 1, 1], [0, 4, 4, 4]])
    np.testing.assert_array_equal(faulty_weight(w, 2), [8, 2, 8])
    np.testing.assert_array_equal(quorum_threshold(w, 1), [(11 + 5) // 2 + 1, 3, (12 + 4) // 2 + 1])
    np.testing.assert_array_equal(is_admissible(w, 1), [False, True, False])
    assert faulty_weight(w, 0).tolist() == [0, 0, 0]
    q = WeightedQuorum([1, 1, 1, 1], 1)
    masks = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    assert q.weight(masks).tolist() == [3, 2]
    assert q.is_quorum(masks).tolist() == [True, False]
    assert q.is_certificate(masks).tolist() == [True, True]


def test_unsafe_heavy_vector_is_refused() -> None:
    # A Byzantine heavy primary with weight 3 of 6 would hold half the vote.
    assert not is_admissible([3, 1, 1, 1], 1)
    with pytest.raises(
        InvalidParameterError, match=r"'weights' parameter of WeightedQuorum.*W=6, F_w=3"
    ):
        WeightedQuorum([3, 1, 1, 1], f=1)
    adopted, clamped = clamp_weights([3, 3, 3, 3], [3, 1, 1, 1], f=1)
    assert clamped and is_admissible(adopted, 1)
    assert adopted.tolist() != [3, 1, 1, 1]


@pytest.mark.parametrize(
    ("weights", "f", "match"),
    [
        ([1, -1, 1, 1], 1, "'weights' parameter of WeightedQuorum must be an array of integers"),
        ([1.5, 1, 1, 1], 1, "'weights' parameter"),
        ([1, 1, 1, 1], 4, r"'f' parameter of WeightedQuorum must be an int in the range \[0, 3\]"),
        ([1, 1, 1, 1], -1, "'f' parameter"),
        ([[1, 1, 1, 1]], 1, "1-D array"),
    ],
)
def test_bad_arguments_name_the_parameter(weights: object, f: int, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        WeightedQuorum(weights, f)  # type: ignore[arg-type]


@st.composite
def admissible_weights(draw: st.DrawFn, max_n: int = 7) -> tuple[np.ndarray, int]:
    n = draw(st.integers(1, max_n))
    f = draw(st.integers(0, (n - 1) // 3))
    w = np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), dtype=np.int64)
    # Raise the smallest weights until admissible (always possible with n >= 3f + 1).
    while not is_admissible(w, f):
        w[np.argmin(w)] += 1
    return w, f


@FAST
@given(admissible_weights())
def test_any_two_quorums_share_more_than_f_w_and_honest_nodes_form_a_quorum(
    wf: tuple[np.ndarray, int],
) -> None:
    w, f = wf
    n = w.size
    q = WeightedQuorum(w, f)
    masks = np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)  # (2^N, N)
    weight = q.weight(masks)
    quorums = masks[weight >= q.threshold]
    assert len(quorums) > 0
    inter = (quorums[:, None, :] & quorums[None, :, :]) * w  # (M, M, N)
    assert inter.sum(axis=-1).min() > q.faulty_weight
    small = masks.sum(axis=1) <= f
    assert weight[small].max(initial=0) <= q.faulty_weight
    # Whatever at most f nodes fail, the rest is a quorum (availability).
    assert q.is_quorum(~masks[small]).all()
    # A certificate (> F_w) always has more than f members, hence an honest one.
    assert (masks[q.is_certificate(masks)].sum(axis=1) > f).all()


# ---------------------------------------------------------------------------------------------
# Clamping
# ---------------------------------------------------------------------------------------------


@FAST
@given(admissible_weights(max_n=8), st.data())
def test_clamp_adopts_only_admissible_vectors_between_old_and_proposed(
    wf: tuple[np.ndarray, int], data: st.DataObject
) -> None:
    w, f = wf
    proposed = np.array(
        [data.draw(st.integers(0, int(x))) for x in w], dtype=np.int64
    )  # the update only lowers weights
    adopted, clamped = clamp_weights(w, proposed, f)
    assert is_admissible(adopted, f)
    assert (adopted >= proposed).all() and (adopted <= w).all()
    assert clamped == (not bool(is_admissible(proposed, f)))
    if not clamped:
        np.testing.assert_array_equal(adopted, proposed)


def test_clamp_takes_the_largest_admissible_step() -> None:
    adopted, clamped = clamp_weights([100, 100, 100, 100], [100, 100, 100, 0], 1)
    assert clamped and adopted.tolist() == [100, 100, 100, 1]
    # The full step (k = CLAMP_STEPS) would break W >= 3 F_w + 1: 300 < 3 * 100 + 1.
    assert not is_admissible([100, 100, 100, 0], 1)
    step = 100 - (100 * (CLAMP_STEPS - 1)) // CLAMP_STEPS
    assert step == adopted[3]
    with pytest.raises(InvalidParameterError, match="'previous' parameter of clamp_weights"):
        clamp_weights([3, 1, 1, 1], [3, 1, 1, 1], 1)


# ---------------------------------------------------------------------------------------------
# Evidence and attribution
# ---------------------------------------------------------------------------------------------


def _paths(
    ident: int, source: int, destination: int, relays: tuple[int, ...], sent: bytes, got: bytes
) -> list[Operation]:
    common = dict(
        delivery=ident, path_index=0, source=source, destination=destination, relays=relays
    )
    return [
        Operation.share_verification(
            path_statement(KEYS.identity(source), role="src", share_digest=digest(sent), **common)
        ),
        Operation.share_verification(
            path_statement(
                KEYS.identity(destination), role="dst", share_digest=digest(got), **common
            )
        ),
    ]


def _equivocation(signer: int, seq: int = 3) -> Operation:
    a = Prepare(0, seq, digest(b"x"), signer, b"").sign(KEYS.identity(signer))
    b = Prepare(0, seq, digest(b"y"), signer, b"").sign(KEYS.identity(signer))
    return Operation.equivocation(a, b)  # type: ignore[arg-type]


def test_only_common_relay_of_failed_paths_is_attributed_with_f_1() -> None:
    # Node 4 relays two failed paths with different endpoints; 4 is their only common member.
    ops = _paths(1, 0, 1, (4, 2), b"s", b"t") + _paths(2, 3, 5, (4, 6), b"s", b"u")
    ops += _paths(3, 0, 5, (2,), b"s", b"s")  # an intact path through 2
    ev = collect_evidence(ops, 7, KEYS)
    assert ev.suspects.sum(axis=0).tolist() == [1, 1, 1, 1, 2, 1, 1]
    assert ev.participation.tolist() == [2, 1, 2, 1, 2, 2, 1]
    assert attribute_faults(ev.suspects, 1).tolist() == [False] * 4 + [True, False, False]
    assert not attribute_faults(ev.suspects, 2).any()
    w = np.full(7, 1000)
    up = update_weights(w, ops, f=1, alpha=0.5, keys=KEYS)
    assert up.error_rate.tolist() == [0, 0, 0, 0, 1.0, 0, 0]  # 2 failures of 2 records
    assert up.weights.tolist() == [1000] * 4 + [500, 1000, 1000]
    assert update_weights(w, ops, f=2, alpha=0.5, keys=KEYS).weights.tolist() == [1000] * 7


def test_signed_equivocation_pair_lowers_the_signer_by_alpha() -> None:
    w = np.full(7, 1000)
    up = update_weights(w, [_equivocation(2), _equivocation(2)], f=2, alpha=0.3, keys=KEYS)
    assert up.forced.tolist() == [False, False, True, False, False, False, False]
    assert up.weights.tolist() == [1000, 1000, 700, 1000, 1000, 1000, 1000]
    assert not up.clamped
    # Checkpoint conflicts count too; commit pairs are the same (type, view, seq) key.
    c1 = Commit(1, 4, digest(b"a"), 5).sign(KEYS.identity(5))
    c2 = Commit(1, 4, digest(b"b"), 5).sign(KEYS.identity(5))
    up = update_weights(w, [Operation.equivocation(c1, c2)], f=2, alpha=1.0, keys=KEYS)  # type: ignore[arg-type]
    # alpha = 1 proposes 0, which would leave W = 6000 < 3 * 2000 + 1: clamped to 1.
    assert up.forced[5] and up.clamped and up.weights.tolist() == [1000] * 5 + [1, 1000]


def test_invalid_or_non_conflicting_evidence_is_ignored() -> None:
    a = Prepare(0, 3, digest(b"x"), 2, b"").sign(KEYS.identity(2))
    same = Prepare(0, 3, digest(b"x"), 2, b"").sign(KEYS.identity(2))
    other_seq = Prepare(0, 4, digest(b"y"), 2, b"").sign(KEYS.identity(2))
    pp = PrePrepare(0, 3, digest(b"y"), None, 2).sign(KEYS.identity(2))
    forged = Prepare(0, 3, digest(b"y"), 2, b"")
    forged.signature = KEYS.identity(1).sign(forged.signed_bytes())
    ops = [
        Operation.equivocation(a, same),  # type: ignore[arg-type]
        Operation.equivocation(a, other_seq),  # type: ignore[arg-type]
        Operation.equivocation(a, pp),  # type: ignore[arg-type]
        Operation.equivocation(a, forged),  # type: ignore[arg-type]
        Operation.accusation(1, 2, "equivocation"),
        Operation.relay_order([0, 2, 3], 256),
    ]
    ev = collect_evidence(ops, 7, KEYS)
    assert ev.suspects.shape == (0, 7) and not ev.equivocators.any()


def test_honest_high_qber_is_not_evidence_but_contradiction_is() -> None:
    ops = [
        Operation.link_report(
            link_statement(KEYS.identity(u), u=0, v=1, round_=5, qber_ppm=110_000)
        )
        for u in (0, 1)
    ]
    up = update_weights(np.full(4, 100), ops, f=1, alpha=1.0, keys=KEYS)
    assert up.weights.tolist() == [100] * 4  # an eavesdropped fibre is not a node fault
    # Node 3 contradicts both of its neighbours 0 and 2: only 3 explains both.
    for nb in (0, 2):
        for who, q in ((nb, 20_000), (3, 400_000)):
            ops.append(
                Operation.link_report(
                    link_statement(KEYS.identity(who), u=nb, v=3, round_=6, qber_ppm=q)
                )
            )
    up = update_weights(np.full(4, 100), ops, f=1, alpha=0.5, keys=KEYS)
    assert up.forced.tolist() == [False, False, False, True]
    assert up.weights.tolist() == [100, 100, 100, 50]


@FAST
@given(st.data())
def test_attribution_is_sound_forced_nodes_are_byzantine(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 9))
    f = data.draw(st.integers(1, max(1, (n - 1) // 3)))
    byz = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=f))
    rows = []
    for _ in range(data.draw(st.integers(1, 8))):
        culprit = data.draw(st.sampled_from(sorted(byz)))
        others = data.draw(st.sets(st.integers(0, n - 1), max_size=4))
        row = np.zeros(n, dtype=bool)
        row[list(others | {culprit})] = True
        rows.append(row)
    forced = attribute_faults(np.array(rows), f)
    assert set(np.flatnonzero(forced).tolist()) <= byz


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_framing_never_lowers_an_honest_weight(data: st.DataObject) -> None:
    n = data.draw(st.sampled_from([4, 7]))
    f = (n - 1) // 3
    byz = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=f)))
    honest = [i for i in range(n) if i not in byz]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    ops: list[Operation | None] = []
    for b in byz:
        ops += framing_operations(KEYS.identity(b), honest)
        if rng.random() < 0.5:
            ops.append(_equivocation(b, seq=int(rng.integers(1, 50))))
    # Honest link reports on every link, Byzantine endpoints lie at random.
    for u, v in itertools.combinations(range(n), 2):
        true_q = int(rng.integers(0, 120_000))
        for who in (u, v):
            q = int(rng.integers(0, 500_000)) if who in byz and rng.random() < 0.5 else true_q
            ops.append(
                Operation.link_report(
                    link_statement(KEYS.identity(who), u=u, v=v, round_=0, qber_ppm=q)
                )
            )
    # Share paths: Byzantine relays may corrupt, Byzantine endpoints may sign anything.
    for d in range(int(rng.integers(1, 6))):
        src, dst = (int(x) for x in rng.choice(n, size=2, replace=False))
        relays = tuple(
            int(x) for x in rng.permutation([i for i in range(n) if i not in (src, dst)])[:2]
        )
        corrupted = any(r in byz for r in relays) and rng.random() < 0.7
        got = b"bad" if corrupted else b"share"
        if dst in byz and rng.random() < 0.5:
            got = b"lie"
        ops += _paths(100 + d, src, dst, relays, b"share", got)
    ops.append(None)
    order = rng.permutation(len(ops))
    ops = [ops[i] for i in order]
    w = np.full(n, 1000, dtype=np.int64)
    for alpha in (0.5, 1.0):
        up = update_weights(w, ops, f=f, alpha=alpha, keys=KEYS)
        assert (up.weights[honest] >= w[honest]).all()
        assert not up.forced[honest].any()
        assert is_admissible(up.weights, f)


def test_weight_schedule_is_lagged_pure_and_adopts_admissible_vectors() -> None:
    k = 3
    log: list[Operation | None] = [Operation.relay_order([0, 1], 8, tag=i) for i in range(k)]
    log += [_equivocation(1), None, _equivocation(1, seq=9)]
    log += [Operation.relay_order([0, 1], 8, tag=9)] * k
    sched = weight_schedule([10, 10, 10, 10], log, checkpoint_interval=k, f=1, alpha=0.5, keys=KEYS)
    again = weight_schedule([10, 10, 10, 10], log, checkpoint_interval=k, f=1, alpha=0.5, keys=KEYS)
    assert [w.tolist() for w in sched] == [w.tolist() for w in again]
    # Evidence committed in epoch 1 changes the weights of epoch 3 (computed at checkpoint 2K).
    assert [w.tolist() for w in sched] == [
        [10] * 4,
        [10] * 4,
        [10] * 4,
        [10, 5, 10, 10],
        [10, 5, 10, 10],
    ]
    assert all(is_admissible(w, 1) for w in sched)
    frozen = weight_schedule(
        [10] * 4, log, checkpoint_interval=k, f=1, alpha=0.5, keys=KEYS, adaptive=False
    )
    assert all(w.tolist() == [10] * 4 for w in frozen)


def test_update_weights_rejects_bad_alpha() -> None:
    with pytest.raises(
        InvalidParameterError, match=r"'alpha' parameter of update_weights .* \[0.0, 1.0\]"
    ):
        update_weights([1, 1, 1, 1], [], f=1, alpha=1.5, keys=KEYS)


def test_record_halves_in_different_epochs_pair_up_and_are_charged_once() -> None:
    def report(who: int, other: int, q: int) -> Operation:
        lo, hi = sorted((who, other))
        return Operation.link_report(
            link_statement(KEYS.identity(who), u=lo, v=hi, round_=1, qber_ppm=q)
        )

    history: list[Operation | None] = [report(3, 0, 900_000), report(3, 2, 900_000)]
    epoch = [report(0, 3, 10_000), report(2, 3, 10_000)]
    w = np.full(4, 100)
    up = update_weights(w, epoch, f=1, alpha=0.5, keys=KEYS, history=history)
    assert up.forced.tolist() == [False, False, False, True]
    assert up.weights.tolist() == [100, 100, 100, 50]
    # The same records seen again in a later epoch are old news: no second decay.
    again = update_weights(up.weights, [None], f=1, alpha=0.5, keys=KEYS, history=history + epoch)
    assert again.weights.tolist() == [100, 100, 100, 50] and again.forced[3]
    ev = collect_evidence(history + epoch, 4, KEYS)
    assert len(ev.records) == 2 and ev.restrict([]).suspects.shape == (0, 4)
