"""Coverage of verify's intervals, by seeded simulation at the sizes that matter: n = 300, rare flips.

A 95% interval must contain the true value in at least 94% of simulated splits (the 1-point slack
covers simulation noise: 2,000 draws give a standard error of about 0.5 points). The paired
bootstrap verify used before is kept here as the method the check must reject.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from edgevit.verify.intervals import clopper_pearson, mcnemar_exact_p, paired_difference_interval

N = 300
DRAWS = 2_000
NOMINAL_FLOOR = 0.94
# (discordance rate, share of the discordant images the artifact improves): 0.1% to 1% flips, from
# "the artifact only ever breaks images" to "it breaks and fixes alike".
SETTINGS = [(rate, share) for rate in (0.001, 0.003, 0.005, 0.01) for share in (0.0, 0.25, 0.5)]


def _old_bootstrap(improved: int, worsened: int, count: int) -> tuple[float, float]:
    """verify's interval before: 10,000 paired-bootstrap resamples, seed 0, percentile bounds."""
    draws = np.random.default_rng(0).multinomial(
        count, [improved / count, worsened / count, (count - improved - worsened) / count], size=10_000)
    low, high = np.percentile((draws[:, 0] - draws[:, 1]) / count, [2.5, 97.5])
    return float(low), float(high)


def _coverage(interval, rate: float, share: float, seed: int) -> float:
    cached = functools.lru_cache(maxsize=None)(lambda b, c: interval(b, c, N))
    p_improved, p_worsened = rate * share, rate * (1 - share)
    truth = p_improved - p_worsened
    counts = np.random.default_rng(seed).multinomial(N, [p_improved, p_worsened, 1 - rate], size=DRAWS)
    hits = 0
    for b, c, _ in counts:
        low, high = cached(int(b), int(c))
        hits += low - 1e-12 <= truth <= high + 1e-12
    return hits / DRAWS


@pytest.mark.parametrize("rate,share", SETTINGS)
def test_the_paired_difference_interval_covers_at_least_94_percent(rate, share):
    assert _coverage(paired_difference_interval, rate, share, seed=int(rate * 1e4) + int(share * 100)) >= NOMINAL_FLOOR


def test_the_old_bootstrap_fails_the_same_check():
    # An artifact that only ever breaks images, 0.5% of them: 22% of 300-image splits hold no flip at
    # all, and there the bootstrap's interval is [0, 0].
    coverage = _coverage(_old_bootstrap, 0.005, 0.0, seed=7)
    assert coverage < NOMINAL_FLOOR, coverage


@pytest.mark.parametrize("rate", [0.001, 0.003, 0.005, 0.01, 0.03])
def test_the_agreement_interval_covers_at_least_94_percent(rate):
    truth = 1.0 - rate
    agreeing = np.random.default_rng(int(rate * 1e4)).binomial(N, truth, size=DRAWS)
    bounds = {k: clopper_pearson(int(k), N) for k in set(agreeing.tolist())}
    coverage = np.mean([bounds[k][0] <= truth <= bounds[k][1] for k in agreeing.tolist()])
    assert coverage >= NOMINAL_FLOOR


def test_the_difference_interval_and_the_exact_test_never_disagree_on_the_sign():
    for improved in range(0, 40):
        for worsened in range(0, 40):
            low, high = paired_difference_interval(improved, worsened, 1_000)
            excludes_zero = low > 0 or high < 0
            assert excludes_zero == (mcnemar_exact_p(improved, worsened) < 0.05), (improved, worsened)


def test_mcnemar_p_for_many_pairs_agrees_with_the_exact_sum_and_is_fast():
    import math
    import time

    from edgevit.verify.intervals import EXACT_MCNEMAR_MAX, mcnemar_exact_p

    for b, c in ((1000, 1001), (900, 1101), (1, 1999)):  # at the limit, both ways
        assert b + c <= EXACT_MCNEMAR_MAX + 1
        exact = min(1.0, 2.0 * (sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)))
        n = b + c
        from scipy import stats

        assert min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), n, 0.5))) == pytest.approx(exact, rel=1e-9)
    started = time.perf_counter()
    assert mcnemar_exact_p(1_000_000, 1_200_000) < 1e-300 or mcnemar_exact_p(1_000_000, 1_200_000) == 0.0
    assert mcnemar_exact_p(1_000_000, 1_000_100) == pytest.approx(0.9434, abs=2e-3)
    assert time.perf_counter() - started < 1.0  # gates.images_to_settle asks this about millions of pairs
