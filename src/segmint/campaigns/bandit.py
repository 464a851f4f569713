"""Adaptive offers: Thompson sampling over Beta posteriors of each (segment, variant)'s measured conversions.

A campaign with variants splits its treatment (never its holdout) across them. Each customer gets the
variant whose draw from Beta(1 + conversions, 1 + non-conversions) is highest; the draws are fixed by
sha256 of campaign id, customer id and variant, like the holdout, so a rebuild assigns the same variants.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
from scipy.stats import beta as beta_dist

from segmint.warehouse import query_frame

CREDIBLE_LEVEL = 0.90
UNASSIGNED = "unassigned"  # the segment of an audience member without one, as `measure` counts it
P_BEST_SAMPLES = 20_000


@dataclass(frozen=True)
class Posterior:
    """Beta(alpha, beta) of one (segment, variant)'s conversion rate, from `n_builds` measured builds."""

    alpha: float = 1.0
    beta: float = 1.0
    n_builds: int = 0

    @property
    def mean(self) -> float:
        """The posterior mean conversion rate."""
        return self.alpha / (self.alpha + self.beta)

    def interval(self, level: float = CREDIBLE_LEVEL) -> tuple[float, float]:
        """The equal-tailed credible interval."""
        tail = (1 - level) / 2
        low, high = beta_dist.ppf([tail, 1 - tail], self.alpha, self.beta)
        return float(low), float(high)


def uniform_draws(campaign_id: str, variant: str, customer_ids: list[str]) -> np.ndarray:
    """A uniform number in (0, 1) per customer, fixed by campaign id, variant and customer id."""
    key = f"{campaign_id}:variant:{variant}:"
    values = [int.from_bytes(hashlib.sha256((key + c).encode()).digest()[:8], "big") for c in customer_ids]
    # +0.5 keeps the draw strictly inside (0, 1), where the Beta quantile is finite.
    return (np.array(values, dtype=np.float64) + 0.5) / 2**64


def thompson_assign(
    campaign_id: str,
    customer_ids: list[str],
    segments: list[str],
    variants: list[str],
    posteriors: dict[tuple[str, str], Posterior],
) -> list[str]:
    """Each customer's variant: the argmax of one posterior draw per variant (Beta quantile of a fixed uniform)."""
    if not customer_ids:
        return []
    segment_of = np.array(segments, dtype=object)
    draws = np.empty((len(customer_ids), len(variants)))
    for j, variant in enumerate(variants):
        u = uniform_draws(campaign_id, variant, customer_ids)
        alphas = np.array([posteriors.get((s, variant), Posterior()).alpha for s in segment_of])
        betas = np.array([posteriors.get((s, variant), Posterior()).beta for s in segment_of])
        draws[:, j] = beta_dist.ppf(u, alphas, betas)
    return [variants[i] for i in np.argmax(draws, axis=1)]


def p_best(posteriors: list[Posterior], *, seed: int, samples: int = P_BEST_SAMPLES) -> list[float]:
    """P(each variant has the highest conversion rate), by Monte Carlo from the Betas (seeded)."""
    if not posteriors:
        return []
    rng = np.random.default_rng(seed)
    draws = np.column_stack([rng.beta(p.alpha, p.beta, size=samples) for p in posteriors])
    wins = np.bincount(np.argmax(draws, axis=1), minlength=len(posteriors))
    return [float(w) / samples for w in wins]


def segment_seed(name: str, segment: str) -> int:
    """A stable seed for one campaign and segment's Monte Carlo (so a rerun stores the same P(best))."""
    return zlib.crc32(f"{name}:{segment}".encode())


def earlier_posteriors(
    con: duckdb.DuckDBPyConnection, name: str, as_of: date
) -> dict[tuple[str, str], Posterior]:
    """Posteriors per (segment, variant) from the measured builds of campaign `name` before `as_of`.

    Only earlier builds count, so rebuilding a day gives the same split whatever was measured since.
    """
    rows = query_frame(
        con,
        """
        select r.segment_name, r.variant, count(*) as n_builds, sum(r.n_treatment) as n,
            sum(r.conversions) as x
        from campaign_variant_results as r
        join campaigns as c using (campaign_id)
        where r.name = $name and c.as_of < $as_of
        group by all
        """,
        {"name": name, "as_of": as_of},
    )
    return {
        (str(r["segment_name"]), str(r["variant"])): Posterior(
            alpha=1.0 + float(r["x"]), beta=1.0 + float(r["n"] - r["x"]), n_builds=int(r["n_builds"])
        )
        for r in rows.iter_rows(named=True)
    }
