"""Tests for the BG/NBD + Gamma-Gamma lifetime-value models in segmint.predict.clv."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from scipy import integrate, stats
from scipy.special import beta as beta_function
from scipy.special import hyp2f1

from segmint.predict import clv

# A NaN in the scores announces itself as numpy's "invalid value" warning first.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

CDNOW = Path(__file__).resolve().parents[1] / "data" / "real" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = date(1997, 9, 30)

# Published estimates for the CDNOW sample, 39-week calibration period.
FHL_2005 = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
FHL_2005_LL = -9582.4
FH_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _rel(actual: float, expected: float) -> float:
    return abs(actual - expected) / abs(expected)


@pytest.fixture(scope="module")
def cdnow_transactions() -> pl.DataFrame:
    # Whitespace-separated with leading spaces and no header: split on any
    # whitespace and reshape into the five documented columns.
    tokens = np.array(CDNOW.read_text().split()).reshape(-1, 5)
    return pl.DataFrame(
        {
            "sample_id": tokens[:, 1].astype(np.int64),
            "date": pl.Series(tokens[:, 2]).str.strptime(pl.Date, "%Y%m%d"),
            "dollar_value": tokens[:, 4].astype(np.float64),
        }
    )


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_transactions: pl.DataFrame) -> pl.DataFrame:
    return clv.rfm_summary(
        cdnow_transactions,
        customer_col="sample_id",
        date_col="date",
        value_col="dollar_value",
        calibration_end=CALIBRATION_END,
    )


def _rfm(summary: pl.DataFrame) -> tuple[npt.NDArray[np.float64], ...]:
    return tuple(
        summary[c].cast(pl.Float64).to_numpy() for c in ("frequency", "recency", "T", "monetary_value")
    )


# --------------------------------------------------------------------------
# CDNOW: reproduce the literature
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_cdnow_summary_matches_published_rfm(cdnow_summary: pl.DataFrame) -> None:
    # FHL's summary: 2,357 customers, 2,457 repeat purchase days, 946 repeat
    # buyers; customer 1 is (x=2, t_x=30.43, T=38.86) and T=38.86 for every
    # customer first seen on 1997-01-01 (272 days to 1997-09-30).
    assert cdnow_summary.height == 2357
    assert cdnow_summary["frequency"].sum() == 2457
    assert (cdnow_summary["frequency"] > 0).sum() == 946
    first = cdnow_summary.filter(pl.col("customer_id") == 1).row(0, named=True)
    assert first["frequency"] == 2
    assert first["recency"] == pytest.approx(30.43, abs=0.005)
    assert first["T"] == pytest.approx(38.86, abs=0.005)
    # Purchases of 29.33 (first day), 29.73 and 14.96 in calibration.
    assert first["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


@pytest.mark.slow
def test_cdnow_bgnbd_matches_fader_hardie_lee_2005(cdnow_summary: pl.DataFrame) -> None:
    x, t_x, t_cal, _ = _rfm(cdnow_summary)
    params = clv.fit_bgnbd(x, t_x, t_cal)
    assert params.n_customers == 2357
    for name, published in FHL_2005.items():
        assert _rel(getattr(params, name), published) < 0.01, (name, getattr(params, name))
    assert _rel(params.log_likelihood, FHL_2005_LL) < 0.01
    # The optimum is sharp: it agrees with the published LL to 0.1.
    assert params.log_likelihood == pytest.approx(FHL_2005_LL, abs=0.1)


@pytest.mark.slow
def test_cdnow_gamma_gamma_matches_fader_hardie(cdnow_summary: pl.DataFrame) -> None:
    x, _, _, m = _rfm(cdnow_summary)
    params = clv.fit_gamma_gamma(x, m)
    assert params.n_customers == 946
    for name, published in FH_GAMMA_GAMMA.items():
        assert _rel(getattr(params, name), published) < 0.01, (name, getattr(params, name))
    assert params.log_likelihood < 0


@pytest.mark.slow
def test_cdnow_holdout_purchases_are_tracked(
    cdnow_transactions: pl.DataFrame, cdnow_summary: pl.DataFrame
) -> None:
    # The 39-week holdout (1997-10-01..1998-06-30) holds 1,882 repeat purchase
    # days; BG/NBD's conditional expectations slightly under-forecast it
    # (FHL 2005, fig. 4), so allow 15 % on the total.
    holdout = cdnow_transactions.filter(pl.col("date") > CALIBRATION_END)
    actual = holdout.select("sample_id", "date").unique().height
    assert actual == 1882
    x, t_x, t_cal, _ = _rfm(cdnow_summary)
    params = clv.fit_bgnbd(x, t_x, t_cal)
    predicted = clv.expected_purchases(params, 39.0, x, t_x, t_cal).sum()
    assert _rel(predicted, actual) < 0.15


@pytest.mark.slow
def test_cdnow_fit_clv_scores_every_customer(cdnow_summary: pl.DataFrame) -> None:
    bgnbd, gg, scores = clv.fit_clv(cdnow_summary)
    assert scores.columns == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "expected_purchases_90d",
        "p_alive",
        "clv_12m",
    ]
    assert scores.height == 2357
    assert bgnbd.n_customers == 2357
    assert gg.n_customers == 946
    for column in ("expected_purchases_90d", "p_alive", "clv_12m"):
        values = scores[column].to_numpy()
        assert np.all(np.isfinite(values)), column
        assert np.all(values >= 0), column
    assert scores["p_alive"].to_numpy().max() <= 1.0
    # Heavier, more recent buyers are worth more on average.
    by_freq = scores.group_by(pl.col("frequency") > 3).agg(pl.col("clv_12m").mean())
    heavy = by_freq.filter(pl.col("frequency"))["clv_12m"].item()
    light = by_freq.filter(~pl.col("frequency"))["clv_12m"].item()
    assert heavy > 5 * light


# --------------------------------------------------------------------------
# rfm_summary definitions
# --------------------------------------------------------------------------


def test_rfm_summary_definitions() -> None:
    transactions = pl.DataFrame(
        {
            "cust": ["a", "a", "a", "a", "b", "c", "c"],
            "day": [
                date(2024, 1, 1),
                date(2024, 1, 1),  # same day: summed into one purchase
                date(2024, 1, 8),
                date(2024, 1, 22),
                date(2024, 1, 29),  # first purchase on calibration_end: T = 0
                date(2024, 1, 15),
                date(2024, 2, 5),  # after calibration_end: ignored
            ],
            "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 3.0, 99.0],
        }
    )
    summary = clv.rfm_summary(
        transactions,
        customer_col="cust",
        date_col="day",
        value_col="amount",
        calibration_end=date(2024, 1, 29),
    )
    assert summary.columns == ["customer_id", "frequency", "recency", "T", "monetary_value"]
    rows = {row["customer_id"]: row for row in summary.iter_rows(named=True)}
    assert rows["a"] == {
        "customer_id": "a",
        "frequency": 2,
        "recency": 3.0,
        "T": 4.0,
        "monetary_value": 30.0,
    }
    assert rows["b"] == {
        "customer_id": "b",
        "frequency": 0,
        "recency": 0.0,
        "T": 0.0,
        "monetary_value": 0.0,
    }
    assert rows["c"]["frequency"] == 0
    assert rows["c"]["T"] == pytest.approx(2.0)


def test_rfm_summary_accepts_datetimes_and_other_periods() -> None:
    transactions = pl.DataFrame(
        {
            "cust": [1, 1, 1],
            "ts": [datetime(2024, 1, 1, 9), datetime(2024, 1, 1, 18), datetime(2024, 1, 11, 8)],
            "amount": [1.0, 2.0, 4.0],
        }
    )
    summary = clv.rfm_summary(
        transactions,
        customer_col="cust",
        date_col="ts",
        value_col="amount",
        calibration_end=date(2024, 1, 21),
        period_days=1.0,
    )
    assert summary.row(0) == (1, 1, 10.0, 20.0, 4.0)


def test_rfm_summary_rejects_bad_input() -> None:
    empty = pl.DataFrame(
        {"cust": [], "day": [], "amount": []},
        schema={"cust": pl.Int64, "day": pl.Date, "amount": pl.Float64},
    )

    def summarise(frame: pl.DataFrame, end: date) -> pl.DataFrame:
        return clv.rfm_summary(
            frame, customer_col="cust", date_col="day", value_col="amount", calibration_end=end
        )

    with pytest.raises(ValueError, match="no transactions"):
        summarise(empty, date(2024, 1, 1))
    late = pl.DataFrame({"cust": [1], "day": [date(2024, 2, 1)], "amount": [1.0]})
    with pytest.raises(ValueError, match="no transactions"):
        summarise(late, date(2024, 1, 1))
    with pytest.raises(ValueError, match="lack column"):
        summarise(late.drop("amount"), date(2024, 3, 1))
    as_text = late.with_columns(pl.col("day").cast(pl.String))
    with pytest.raises(ValueError, match="Date or Datetime"):
        summarise(as_text, date(2024, 3, 1))
    with_null = pl.DataFrame({"cust": [1, None], "day": [date(2024, 1, 1)] * 2, "amount": [1.0] * 2})
    with pytest.raises(ValueError, match="nulls"):
        summarise(with_null, date(2024, 3, 1))


# --------------------------------------------------------------------------
# Hand-checked model properties
# --------------------------------------------------------------------------

# Round numbers so that the formulas can be evaluated by hand.
UNIT = clv.BGNBDParams(r=1.0, alpha=1.0, a=1.0, b=2.0, log_likelihood=0.0, n_customers=0)
CDNOW_BGNBD = clv.BGNBDParams(
    r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4, n_customers=2357
)
CDNOW_GG = clv.GammaGammaParams(p=6.25, q=3.74, gamma=15.44, log_likelihood=0.0, n_customers=946)


def _bgnbd(r: float, alpha: float, a: float, b: float) -> clv.BGNBDParams:
    return clv.BGNBDParams(r=r, alpha=alpha, a=a, b=b, log_likelihood=0.0, n_customers=0)


# Fitted on the orders up to 2026-10-25 of tests/quality/test_scenario.py's
# generated shop (600 customers, seed 11). Its only two repeat buyers bought
# again exactly at T, which says nothing about dropout: the likelihood is
# flat in a, b and the optimiser stays at a = 1, where eq. 10's
# (a+b+x-1)/(a-1) · (1 - 2F1) is 0/0.
FITTED_A_ONE = _bgnbd(0.1762515515857771, 0.7476579480953909, 1.0, 1.0000000000000178)
# The same shop up to 2026-11-20: every generated customer drops out with
# about the same probability, so the fit runs off along a/(a+b) ≈ 0.38
# towards a point-mass Beta, where scipy's hyp2f1 overflows and
# (1-z)^(a-1) underflows: inf · 0.
FITTED_POINT_MASS = _bgnbd(0.20694050475978742, 1.8513771499781395, 2773789.136789126, 4456265.25781603)
# tests/segment/test_nightly_flow_segments.py's shop (800 customers, seed 5)
# up to 2026-03-10, its first days: λ and p both near point masses, a at the
# edge of the fitted box.
FITTED_AT_BOX_EDGE = _bgnbd(4996015.178977824, 13132428.016353242, 251911635.08067307, 3.969647239688199e-09)
# a + b + x = 1 makes the hypergeometric's third argument 0: another 0/0.
UNIT_SHAPE_SUM = _bgnbd(0.5, 2.0, 0.4, 0.6)


def test_probability_alive_by_hand() -> None:
    # x = 1, t_x = 1, T = 3: odds of death = a/(b+x-1) ((α+T)/(α+t_x))^(r+x)
    # = 1/2 · (4/2)^2 = 2, so P(alive) = 1/3.
    assert clv.probability_alive(UNIT, 1, 1.0, 3.0) == pytest.approx(1 / 3)
    # Purchase right at T: odds = 1/2, P(alive) = 2/3.
    assert clv.probability_alive(UNIT, 1, 3.0, 3.0) == pytest.approx(2 / 3)


def test_probability_alive_is_one_without_repeat_purchases() -> None:
    # BG/NBD customers can only drop out right after a repeat purchase.
    p_alive = clv.probability_alive(CDNOW_BGNBD, [0, 0, 0], [0.0, 0.0, 0.0], [0.0, 5.0, 500.0])
    np.testing.assert_array_equal(p_alive, 1.0)


def test_probability_alive_decays_with_silence() -> None:
    t_cal = np.array([10.0, 20.0, 40.0, 80.0])
    p_alive = clv.probability_alive(CDNOW_BGNBD, 5, 10.0, t_cal)
    assert p_alive[0] == pytest.approx(clv.probability_alive(CDNOW_BGNBD, 5, 10.0, 10.0))
    assert np.all(np.diff(p_alive) < 0)
    assert np.all((p_alive > 0) & (p_alive <= 1))


def _eq10_direct(params: clv.BGNBDParams, t: float, x: float, t_x: float, t_cal: float) -> float:
    # FHL 2005 eq. 10 exactly as printed, for moderate inputs.
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + t_cal + t)
    bracket = 1 - ((alpha + t_cal) / (alpha + t_cal + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    denominator = 1 + (x > 0) * a / (b + x - 1) * ((alpha + t_cal) / (alpha + t_x)) ** (r + x)
    return float((a + b + x - 1) / (a - 1) * bracket / denominator)


@pytest.mark.parametrize(
    ("t", "x", "t_x", "t_cal"),
    [(39.0, 2, 30.43, 38.86), (1.0, 0, 0.0, 10.0), (52.0, 7, 20.0, 39.0), (5.0, 1, 0.5, 0.5)],
)
def test_expected_purchases_matches_printed_equation(t: float, x: int, t_x: float, t_cal: float) -> None:
    expected = _eq10_direct(CDNOW_BGNBD, t, x, t_x, t_cal)
    assert clv.expected_purchases(CDNOW_BGNBD, t, x, t_x, t_cal) == pytest.approx(expected)


def test_expected_purchases_match_simulated_new_customers() -> None:
    # A customer with T = 0 is a brand-new one: E[X(t)] must equal the mean
    # purchase count of customers simulated from the BG/NBD story (rate
    # λ ~ Gamma(r, α), dropout p ~ Beta(a, b) after each purchase).
    rng = np.random.default_rng(7)
    n, t = 400_000, 26.0
    p = CDNOW_BGNBD
    lam = rng.gamma(p.r, 1 / p.alpha, n)
    drop = rng.beta(p.a, p.b, n)
    purchases = np.minimum(rng.poisson(lam * t), rng.geometric(drop))
    standard_error = purchases.std() / np.sqrt(n)
    expected = clv.expected_purchases(p, t, 0, 0.0, 0.0)
    assert abs(expected - purchases.mean()) < 4 * standard_error


@pytest.mark.parametrize("params", [CDNOW_BGNBD, FITTED_A_ONE, FITTED_POINT_MASS, FITTED_AT_BOX_EDGE])
def test_expected_purchases_grow_with_horizon(params: clv.BGNBDParams) -> None:
    horizons = np.array([0.0, 1.0, 4.0, 13.0, 52.0, 520.0])
    for x, t_x, t_cal in [(0, 0.0, 0.0), (0, 0.0, 30.0), (3, 20.0, 39.0), (300, 38.0, 39.0)]:
        e = clv.expected_purchases(params, horizons, x, t_x, t_cal)
        assert e[0] == pytest.approx(0.0, abs=1e-12)
        assert np.all(np.isfinite(e))
        # Strictly increasing until the customer has used up his expected
        # purchases: with a common dropout of 0.38 a 300-purchase buyer does
        # so within a year, and later increments fall below double precision.
        increments = np.diff(e)
        assert np.all(increments >= 0) and increments[0] > 0, (x, e)
        if params is CDNOW_BGNBD:
            assert np.all(increments > 0), (x, e)


# Brand new (T = 0), silent, repeat buyer at T, lapsed repeat buyer; horizons
# of zero, 90 days and a year.
EDGE_CUSTOMERS = [(0, 0.0, 0.0), (0, 0.0, 3.0), (2, 3.0, 3.0), (5, 1.0, 4.0)]
EDGE_HORIZONS = [0.0, 90 / 7, 52.0]


def _h(p: float, s: float, rx: float) -> float:
    # Expected purchases in (T, T+t] given alive and dropout probability p,
    # with λ integrated out; the limit at p = 0 is rx·s.
    return float(-np.expm1(-rx * np.log1p(p * s)) / p) if p > 0 else rx * s


def _p_alive_direct(params: clv.BGNBDParams, x: float, t_x: float, t_cal: float) -> float:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    odds = (x > 0) * a / (b + x - 1) * ((alpha + t_cal) / (alpha + t_x)) ** (r + x)
    return float(1 / (1 + odds))


def _eq10_by_integration(params: clv.BGNBDParams, t: float, x: float, t_x: float, t_cal: float) -> float:
    # Eq. 10 without any hypergeometric function: P(alive) times the mean of
    # h(p) over the dropout posterior p ~ Beta(a, b+x), integrated by QUADPACK.
    s, rx, b_x = t / (params.alpha + t_cal), params.r + x, params.b + x
    if params.a + b_x < 100:
        # Algebraic weight p^(a-1) (1-p)^(b+x-1): exact at the endpoints.
        total, _ = integrate.quad(_h, 0.0, 1.0, args=(s, rx), weight="alg", wvar=(params.a - 1, b_x - 1))
        mean = total / beta_function(params.a, b_x)
    else:
        dropout = stats.beta(params.a, b_x)
        lo, hi = max(0.0, dropout.mean() - 40 * dropout.std()), min(1.0, dropout.mean() + 40 * dropout.std())
        mean, _ = integrate.quad(lambda p: _h(p, s, rx) * dropout.pdf(p), lo, hi, epsabs=0.0, epsrel=1e-12)
    return float(mean) * _p_alive_direct(params, x, t_x, t_cal)


@pytest.mark.parametrize(
    "params", [FITTED_A_ONE, UNIT_SHAPE_SUM, FITTED_POINT_MASS], ids=lambda p: f"a={p.a:.3g}"
)
@pytest.mark.parametrize(("x", "t_x", "t_cal"), EDGE_CUSTOMERS)
def test_expected_purchases_at_the_closed_forms_singularities(
    params: clv.BGNBDParams, x: int, t_x: float, t_cal: float
) -> None:
    # Each of these parameter sets used to turn every customer's score into
    # NaN ("invalid value encountered in multiply"); the right value is the
    # limit, which the direct integral gives.
    expected = [_eq10_by_integration(params, t, x, t_x, t_cal) for t in EDGE_HORIZONS]
    actual = clv.expected_purchases(params, np.array(EDGE_HORIZONS), x, t_x, t_cal)
    assert actual[0] == 0.0
    np.testing.assert_allclose(actual, expected, rtol=1e-8)


@pytest.mark.parametrize("params", [FITTED_POINT_MASS, FITTED_AT_BOX_EDGE], ids=lambda p: f"a={p.a:.3g}")
def test_expected_purchases_tend_to_the_point_mass_limit(params: clv.BGNBDParams) -> None:
    # As a, b grow with a/(a+b+x) = μ fixed, Beta(a, b+x) tends to a point
    # mass at μ and eq. 10 to P(alive) · h(μ): one common dropout probability.
    for x, t_x, t_cal in EDGE_CUSTOMERS:
        mu = params.a / (params.a + params.b + x)
        for t in EDGE_HORIZONS[1:]:
            limit = _p_alive_direct(params, x, t_x, t_cal) * _h(mu, t / (params.alpha + t_cal), params.r + x)
            assert clv.expected_purchases(params, t, x, t_x, t_cal) == pytest.approx(limit, rel=1e-5)


def test_fit_clv_scores_stay_finite_when_everyone_drops_out_alike() -> None:
    # A month of a young shop where the dropout probability is the same for
    # every customer (0.35): the maximum likelihood runs off to a, b ~ 1e5-1e6.
    rng = np.random.default_rng(0)
    n = 300
    t_cal = rng.integers(0, 31, n) / 7.0
    counts = rng.poisson(rng.gamma(0.25, 1 / 2.0, n) * t_cal)
    x = np.minimum(rng.geometric(np.full(n, 0.35)), counts)
    t_x = np.where(x > 0, t_cal * rng.beta(np.maximum(x, 1), np.maximum(counts - x + 1, 1)), 0.0)
    m = np.where(x > 0, rng.gamma(4.0, 10.0, n), 0.0)
    summary = pl.DataFrame(
        {"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": t_cal, "monetary_value": m}
    )
    bgnbd, _, scores = clv.fit_clv(summary)
    assert bgnbd.a + bgnbd.b > 1e5, bgnbd  # the degenerate fit this test is about
    for column in ("expected_purchases_90d", "p_alive", "clv_12m"):
        values = scores[column].to_numpy()
        assert np.all(np.isfinite(values)) and np.all(values >= 0), column
    # Brand-new and one-time buyers still expect some purchases, and the
    # scores stay in proportion to history: the heaviest buyers expect more.
    expected = scores.sort("frequency")["expected_purchases_90d"].to_numpy()
    assert expected.min() > 0
    assert expected[-1] > np.median(expected)


def test_expected_average_value_by_hand() -> None:
    params = clv.GammaGammaParams(p=2.0, q=3.0, gamma=10.0, log_likelihood=0.0, n_customers=0)
    # Population mean pγ/(q-1) = 10; with x = 1 the weight on the customer's
    # own mean is px/(px+q-1) = 1/2, so (10 + 20)/2 = 15.
    value = clv.expected_average_value(params, [0, 1, 1000], [0.0, 20.0, 20.0])
    assert value[0] == pytest.approx(10.0)
    assert value[1] == pytest.approx(15.0)
    assert value[2] == pytest.approx(20.0, rel=1e-3)


def test_clv_without_discount_is_purchases_times_value() -> None:
    # The month-by-month differences telescope: with no discounting CLV is
    # E[purchases over the horizon] × expected spend.
    x, t_x, t_cal, m = np.array([0, 2, 7]), np.array([0.0, 30.0, 35.0]), 39.0, [0.0, 25.0, 40.0]
    clv_12m = clv.customer_lifetime_value(
        CDNOW_BGNBD, CDNOW_GG, x, t_x, t_cal, m, months=12, monthly_discount_rate=0.0
    )
    purchases = clv.expected_purchases(CDNOW_BGNBD, 12 * clv.WEEKS_PER_MONTH, x, t_x, t_cal)
    value = clv.expected_average_value(CDNOW_GG, x, m)
    np.testing.assert_allclose(clv_12m, purchases * value)
    discounted = clv.customer_lifetime_value(CDNOW_BGNBD, CDNOW_GG, x, t_x, t_cal, m)
    assert np.all(discounted < clv_12m)
    assert np.all(discounted > clv_12m / 1.01**12)


def test_clv_is_non_negative_and_near_zero_for_dead_customers() -> None:
    # Ten purchases in the first week, then two years of silence: surely gone.
    dead = clv.customer_lifetime_value(CDNOW_BGNBD, CDNOW_GG, 10, 1.0, 104.0, 30.0)
    assert 0 <= dead < 1e-6
    assert clv.probability_alive(CDNOW_BGNBD, 10, 1.0, 104.0) < 1e-9
    alive = clv.customer_lifetime_value(CDNOW_BGNBD, CDNOW_GG, 10, 104.0, 104.0, 30.0)
    assert alive > 100
    # A refund-heavy mean is floored at zero and stays non-negative.
    assert clv.customer_lifetime_value(CDNOW_BGNBD, CDNOW_GG, 3, 10.0, 20.0, -50.0) >= 0


def test_vectorised_shapes() -> None:
    x = np.array([0, 1, 4, 9])
    t_x = np.array([0.0, 2.0, 10.0, 30.0])
    t_cal = np.full(4, 39.0)
    m = np.array([0.0, 12.0, 30.0, 18.0])
    assert clv.probability_alive(CDNOW_BGNBD, x, t_x, t_cal).shape == (4,)
    assert clv.expected_purchases(CDNOW_BGNBD, 13.0, x, t_x, t_cal).shape == (4,)
    assert clv.expected_average_value(CDNOW_GG, x, m).shape == (4,)
    assert clv.customer_lifetime_value(CDNOW_BGNBD, CDNOW_GG, x, t_x, t_cal, m).shape == (4,)
    # A column of horizons against a row of customers broadcasts to a grid.
    grid = clv.expected_purchases(CDNOW_BGNBD, np.array([[1.0], [13.0], [52.0]]), x, t_x, t_cal)
    assert grid.shape == (3, 4)
    for row, t in zip(grid, (1.0, 13.0, 52.0), strict=True):
        np.testing.assert_allclose(row, clv.expected_purchases(CDNOW_BGNBD, t, x, t_x, t_cal))
    assert clv.probability_alive(CDNOW_BGNBD, 1, 2.0, 39.0).shape == ()


# --------------------------------------------------------------------------
# Fitting on synthetic data
# --------------------------------------------------------------------------


def _simulate_summary(n: int, seed: int) -> pl.DataFrame:
    """Draw RFM summaries from the BG/NBD and Gamma-Gamma generative stories."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = 0.25, 4.0, 0.8, 2.5
    p, q, gamma = 6.0, 4.0, 15.0
    t_cal = rng.integers(0, 274, n) / 7.0
    lam = rng.gamma(r, 1 / alpha, n)
    counts = rng.poisson(lam * t_cal)
    x = np.minimum(rng.geometric(rng.beta(a, b, n)), counts)
    # Given N purchases on (0, T], the x-th arrival is T · Beta(x, N - x + 1).
    safe = np.maximum(x, 1)
    t_x = np.where(x > 0, t_cal * rng.beta(safe, np.maximum(counts - x + 1, 1)), 0.0)
    nu = rng.gamma(q, 1 / gamma, n)
    m = np.where(x > 0, rng.gamma(p * safe, 1 / nu) / safe, 0.0)
    return pl.DataFrame(
        {"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": t_cal, "monetary_value": m}
    )


def test_fit_recovers_simulated_parameters() -> None:
    summary = _simulate_summary(200_000, seed=1)
    bgnbd, gg, scores = clv.fit_clv(summary, horizon_days=30, months=6)
    for name, truth in {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}.items():
        assert _rel(getattr(bgnbd, name), truth) < 0.1, (name, getattr(bgnbd, name))
    for name, truth in {"p": 6.0, "q": 4.0, "gamma": 15.0}.items():
        assert _rel(getattr(gg, name), truth) < 0.1, (name, getattr(gg, name))
    # Simulated T includes 0 (first purchase on calibration_end): still scored.
    assert (summary["T"] == 0).any()
    assert {"expected_purchases_30d", "clv_6m"} <= set(scores.columns)
    assert scores.select(pl.all().exclude("customer_id").is_nan().any()).row(0) == (False,) * 7


@pytest.mark.slow
def test_fit_clv_one_million_customers_is_fast() -> None:
    summary = _simulate_summary(1_000_000, seed=2)
    start = time.perf_counter()
    _, _, scores = clv.fit_clv(summary)
    elapsed = time.perf_counter() - start
    assert scores.height == 1_000_000
    assert elapsed < 60, f"fit + score took {elapsed:.1f}s"


# --------------------------------------------------------------------------
# Degenerate input
# --------------------------------------------------------------------------


def test_empty_input_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        clv.fit_bgnbd([], [], [])
    with pytest.raises(ValueError, match="empty"):
        clv.fit_gamma_gamma([], [])
    with pytest.raises(ValueError, match="empty"):
        clv.expected_purchases(CDNOW_BGNBD, 1.0, [], [], [])
    empty = pl.DataFrame(
        schema={
            "customer_id": pl.Int64,
            "frequency": pl.Int64,
            "recency": pl.Float64,
            "T": pl.Float64,
            "monetary_value": pl.Float64,
        }
    )
    with pytest.raises(ValueError, match="empty"):
        clv.fit_clv(empty)


def test_degenerate_input_raises() -> None:
    with pytest.raises(ValueError, match="no customer has a repeat purchase"):
        clv.fit_bgnbd([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 3.0, 0.0])
    with pytest.raises(ValueError, match="recency must not exceed T"):
        clv.fit_bgnbd([1, 2], [5.0, 9.0], [4.0, 10.0])
    with pytest.raises(ValueError, match="non-negative integers"):
        clv.fit_bgnbd([1.5, 2], [1.0, 1.0], [4.0, 10.0])
    with pytest.raises(ValueError, match="non-negative integers"):
        clv.fit_bgnbd([-1, 2], [1.0, 1.0], [4.0, 10.0])
    with pytest.raises(ValueError, match="NaN"):
        clv.fit_bgnbd([1, 2], [np.nan, 1.0], [4.0, 10.0])
    with pytest.raises(ValueError, match="incompatible shapes"):
        clv.fit_bgnbd([1, 2, 3], [1.0, 1.0], [4.0, 10.0])
    with pytest.raises(ValueError, match="at least two repeat buyers"):
        clv.fit_gamma_gamma([0, 3, 0], [0.0, 10.0, 0.0])
    with pytest.raises(ValueError, match="at least two repeat buyers"):
        clv.fit_gamma_gamma([2, 3], [10.0, 10.0])
    heavy_tail = clv.GammaGammaParams(p=1.0, q=0.9, gamma=1.0, log_likelihood=0.0, n_customers=2)
    with pytest.raises(ValueError, match="no finite mean"):
        clv.expected_average_value(heavy_tail, [1], [10.0])
    with pytest.raises(ValueError, match="lacks column"):
        clv.fit_clv(pl.DataFrame({"customer_id": [1], "frequency": [1]}))


def test_cdnow_pareto_nbd_matches_fader_hardie_lee(cdnow_summary: pl.DataFrame) -> None:
    # The fallback model, checked against the Pareto/NBD fit of FHL (2005) on the same calibration:
    # r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, LL = -9595.0.
    x, t_x, t_cal, _ = _rfm(cdnow_summary)
    params = clv.fit_pareto_nbd(x, t_x, t_cal)
    assert (params.r, params.alpha, params.s, params.beta) == pytest.approx(
        (0.553, 10.58, 0.606, 11.67), rel=5e-3
    )
    assert params.log_likelihood == pytest.approx(-9595.0, rel=1e-4)
    assert clv.pareto_model_problem(params) is None
    p_alive = clv.probability_alive(params, x, t_x, t_cal)
    # Unlike BG/NBD, a one-time buyer silent for months is not certainly alive.
    lapsed_once = (x == 0) & (t_cal > 26)
    assert lapsed_once.any() and p_alive[lapsed_once].max() < 0.6
    expected = clv.expected_purchases(params, 39.0, x, t_x, t_cal)
    # The sample has 1,882 purchase days in weeks 40-78 (1997-10-01..1998-06-30).
    assert np.all(np.isfinite(expected)) and 0.85 < expected.sum() / 1882 < 1.15


def test_mbgnbd_lets_one_time_buyers_drop_out(cdnow_summary: pl.DataFrame) -> None:
    x, t_x, t_cal, _ = _rfm(cdnow_summary)
    params = clv.fit_mbgnbd(x, t_x, t_cal)
    assert params.model == "mbgnbd" and clv.purchase_model_problem(params) is None
    p_alive = clv.probability_alive(params, x, t_x, t_cal)
    assert p_alive[x == 0].max() < 1.0
    assert np.all(np.isfinite(clv.expected_purchases(params, 39.0, x, t_x, t_cal)))
