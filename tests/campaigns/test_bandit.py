"""Thompson sampling of offer variants: with planted conversion rates it beats an equal split and finds the best."""

from __future__ import annotations

import numpy as np

from segmint.campaigns.bandit import Posterior, p_best, thompson_assign

RATES = {"10% off": 0.02, "free shipping": 0.035, "gift": 0.05}


def test_thompson_sampling_has_less_regret_than_an_equal_split_and_finds_the_best_variant() -> None:
    rng = np.random.default_rng(3)
    variants = list(RATES)
    posteriors = {("loyal", v): Posterior() for v in variants}
    regret = {"thompson": 0.0, "equal": 0.0}
    best = max(RATES.values())
    last_shares: dict[str, float] = {}
    for week in range(20):
        ids = [f"W{week}-C{i}" for i in range(1000)]
        chosen = thompson_assign(f"camp-{week}", ids, ["loyal"] * len(ids), variants, posteriors)
        for v in variants:
            n = chosen.count(v)
            converted = int(rng.binomial(n, RATES[v]))
            p = posteriors[("loyal", v)]
            posteriors[("loyal", v)] = Posterior(p.alpha + converted, p.beta + n - converted, p.n_builds + 1)
            regret["thompson"] += n * (best - RATES[v])
            regret["equal"] += len(ids) / len(variants) * (best - RATES[v])
            last_shares[v] = n / len(ids)
    assert regret["thompson"] < 0.6 * regret["equal"], regret
    assert max(last_shares, key=last_shares.__getitem__) == "gift", last_shares
    chances = p_best([posteriors[("loyal", v)] for v in variants], seed=1)
    assert chances[variants.index("gift")] > 0.8 and abs(sum(chances) - 1) < 1e-9


def test_a_build_is_reproducible_and_one_customer_does_not_move_the_others() -> None:
    variants = list(RATES)
    posteriors = {("s", v): Posterior(1 + 5 * i, 100) for i, v in enumerate(variants)}
    ids = [f"C{i}" for i in range(300)]
    first = thompson_assign("camp", ids, ["s"] * 300, variants, posteriors)
    assert thompson_assign("camp", ids, ["s"] * 300, variants, posteriors) == first
    assert thompson_assign("camp", ids[1:], ["s"] * 299, variants, posteriors) == first[1:]
    # Without any measurement the split is close to equal.
    fresh = thompson_assign("camp", ids, ["s"] * 300, variants, {})
    assert all(60 < fresh.count(v) < 140 for v in variants)
