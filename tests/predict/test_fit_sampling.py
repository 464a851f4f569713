"""Churn and CLV fits learn from a sample past [predict] max_training_rows, and predict about as well."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from segmint.config import PredictSettings
from segmint.predict import churn, clv
from segmint.predict.sampling import training_rows

from .test_churn import synthetic
from .test_clv import _simulate_summary


def test_max_training_rows_default() -> None:
    assert PredictSettings().max_training_rows == 200_000


def test_training_rows_keep_each_class_share_in_order() -> None:
    labels = np.r_[np.zeros(9_000, dtype=np.int8), np.ones(1_000, dtype=np.int8)]
    np.random.default_rng(0).shuffle(labels)
    assert training_rows(labels, 10_000, seed=1) is None
    assert training_rows(labels, None, seed=1) is None
    rows = training_rows(labels, 1_000, seed=1)
    assert rows is not None and rows.size == 1_000
    assert np.all(np.diff(rows) > 0)
    assert int(labels[rows].sum()) == 100
    again = training_rows(labels, 1_000, seed=1)
    assert again is not None and np.array_equal(rows, again)
    rare = np.r_[np.zeros(5_000, dtype=np.int8), np.ones(2, dtype=np.int8)]
    kept = training_rows(rare, 100, seed=1)
    assert kept is not None and int(rare[kept].sum()) >= 1  # a rare class is never sampled away


def test_churn_samples_past_the_threshold_and_keeps_its_auc(monkeypatch: pytest.MonkeyPatch) -> None:
    train, valid = synthetic(30_000, 1), synthetic(10_000, 2)
    fitted: list[int] = []
    fit = churn._fit_with_threshold

    def spy(clf: Any, x: Any, y: Any, seed: int) -> Any:
        fitted.append(len(y))
        return fit(clf, x, y, seed)

    monkeypatch.setattr(churn, "_fit_with_threshold", spy)
    dates: dict[str, Any] = {
        "horizon_days": 90,
        "train_as_of": date(2024, 1, 1),
        "valid_as_of": date(2024, 3, 31),
    }
    full = churn.train_and_validate(train, valid, seed=3, **dates)
    assert fitted == [30_000, 30_000]  # the model and the recency baseline
    fitted.clear()
    sampled = churn.train_and_validate(train, valid, seed=3, max_training_rows=15_000, **dates)
    assert fitted == [15_000, 15_000]
    assert sampled.n_train == 30_000 and sampled.n_valid == 10_000
    assert abs(sampled.model_scores.roc_auc - full.model_scores.roc_auc) < 0.02
    assert sampled.model_scores.roc_auc > sampled.baseline_scores.roc_auc
    scores = churn.score(train, valid, seed=3, features=full.features, max_training_rows=5_000)
    assert scores.height == valid.height  # every buyer scored


def test_clv_samples_past_the_threshold_and_predicts_about_the_same() -> None:
    summary = _simulate_summary(60_000, seed=4)
    full = clv.fit_clv_checked(summary, horizon_days=90)
    sampled = clv.fit_clv_checked(summary, horizon_days=90, max_training_rows=10_000, seed=5)
    assert full.purchase is not None and sampled.purchase is not None
    assert full.purchase.n_customers == 60_000
    assert sampled.purchase.n_customers == 10_000
    assert full.scores is not None and sampled.scores is not None
    assert sampled.scores.height == 60_000  # every customer scored
    total = {
        name: float(s.scores["expected_purchases_90d"].sum())
        for name, s in (("full", full), ("sampled", sampled))
    }
    assert abs(total["sampled"] / total["full"] - 1) < 0.05, total
    gap = np.abs(
        sampled.scores["expected_purchases_90d"].to_numpy() - full.scores["expected_purchases_90d"].to_numpy()
    )
    assert float(gap.mean()) < 0.05 * float(full.scores["expected_purchases_90d"].mean())
