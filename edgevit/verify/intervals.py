"""Confidence intervals for parity on a labelled split, chosen for small n and rare flips.

- Agreement (k of n images keep the SavedModel's top-1 class): the exact Clopper-Pearson interval.
  It never collapses at k = n (300 of 300 agreeing gives [98.8%, 100%], not [100%, 100%]).
- Accuracy difference (artifact minus SavedModel, paired on the same images): Tango's score interval
  for the difference of paired proportions. At 0 discordant images it stays about +-z^2/(n + z^2)
  wide (+-1.26 points at n = 300) instead of the bootstrap's [0, 0].
- The exact McNemar test is printed beside the difference. Tango's interval inverts McNemar's
  asymptotic score test; with few discordant images (e.g. 0 improved, 4 or 5 worsened) that test
  rejects where the exact one does not, so the interval is widened to reach 0 whenever the exact
  test does not reject. The two then never disagree about the sign, and coverage only grows.

Both intervals are two-sided at CONFIDENCE; a gate passes when the whole interval is on its good side
(edgevit/verify/gates.py), so "agreement >= 99.5%" means "at least 99.5%, at 95% confidence".
The coverage of both is checked by simulation in tests/unit/verify/test_intervals.py.
"""

from __future__ import annotations

import math

from scipy import optimize, stats

CONFIDENCE = 0.95
AGREEMENT_METHOD = f"Clopper-Pearson exact interval, two-sided {CONFIDENCE:.0%}"
DIFFERENCE_METHOD = (f"Tango score interval for paired proportions, two-sided {CONFIDENCE:.0%}, "
                     "widened to include 0 where the exact McNemar test does not reject")


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def clopper_pearson(successes: int, count: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact two-sided interval for a binomial proportion (fractions)."""
    if count <= 0 or not 0 <= successes <= count:
        raise ValueError(f"need 0 <= successes <= count and count > 0, got {successes} of {count}")
    alpha = 1.0 - confidence
    low = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2, successes, count - successes + 1))
    high = 1.0 if successes == count else float(stats.beta.ppf(1 - alpha / 2, successes + 1, count - successes))
    return low, high


# Up to this many discordant pairs the p-value is summed in exact integers; above it, scipy's binomial CDF (a
# regularized incomplete beta, accurate to double precision) gives the same value without the cost.
EXACT_MCNEMAR_MAX = 2000


def mcnemar_exact_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: the binomial test of min(b, c) out of b + c discordant pairs at 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    if n > EXACT_MCNEMAR_MAX:  # big-integer sums grow with n: gates.images_to_settle asks about millions of pairs
        return min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), n, 0.5)))
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n  # exact integers: 2.0**n overflows past n = 1023
    return min(1.0, 2.0 * tail)


def _tango_z(delta: float, improved: int, worsened: int, count: int) -> float:
    """Tango's score statistic for H0: difference = delta (fractions), decreasing in delta."""
    n, b, c = count, improved, worsened
    a2 = 2.0 * n
    b2 = -b - c + (2.0 * n - b + c) * delta
    c2 = -c * delta * (1.0 - delta)
    # The constrained maximum-likelihood estimate of the "worsened" cell probability under H0.
    p21 = (-b2 + math.sqrt(max(b2 * b2 - 4.0 * a2 * c2, 0.0))) / (2.0 * a2)
    variance = n * (2.0 * p21 + delta - delta * delta)
    if variance <= 0.0:
        return math.copysign(math.inf, (b - c) - n * delta) if (b - c) != n * delta else 0.0
    return ((b - c) - n * delta) / math.sqrt(variance)


def paired_difference_interval(improved: int, worsened: int, count: int,
                               confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Interval for (improved - worsened) / count, in fractions (see the module docstring)."""
    if count <= 0 or improved < 0 or worsened < 0 or improved + worsened > count:
        raise ValueError(f"need improved + worsened <= count, got {improved} + {worsened} of {count}")
    z = _z(confidence)
    point = (improved - worsened) / count
    eps = 1e-12
    # z(delta) falls from +inf near -1 to -inf near +1: each bound is where it crosses +-z.
    low = -1.0 if _tango_z(-1.0 + eps, improved, worsened, count) <= z else \
        optimize.brentq(lambda d: _tango_z(d, improved, worsened, count) - z, -1.0 + eps, point, xtol=1e-12)
    high = 1.0 if _tango_z(1.0 - eps, improved, worsened, count) >= -z else \
        optimize.brentq(lambda d: _tango_z(d, improved, worsened, count) + z, point, 1.0 - eps, xtol=1e-12)
    if mcnemar_exact_p(improved, worsened) >= 1.0 - confidence:
        low, high = min(low, 0.0), max(high, 0.0)
    return float(low), float(high)
