"""Explanations: the forest's held-out quality and which features define each segment."""

from __future__ import annotations

import numpy as np

from segmint.segment.explain import explain, load_forest


def test_the_forest_finds_the_defining_feature_of_each_segment() -> None:
    rng = np.random.default_rng(0)
    n = 1200
    segment = np.repeat(np.array([1, 2, 3]), n // 3)
    x = rng.normal(size=(n, 3))
    x[:, 0] += np.where(segment == 2, 6.0, 0.0)  # segment 2 stands out on feature 0
    x[:, 2] += np.where(segment == 3, 6.0, 0.0)  # segment 3 on feature 2; feature 1 is noise
    result = explain(x, segment, sample_size=1000, trees=50, seed=1)
    assert result.accuracy > 0.97
    assert set(result.quality) == {1, 2, 3}
    assert all(q.f1 > 0.95 and q.precision > 0.95 and q.recall > 0.95 for q in result.quality.values())
    assert int(np.argmax(result.importance[2])) == 0
    assert int(np.argmax(result.importance[3])) == 2
    assert all(abs(result.importance[s][1]) < 0.05 for s in (1, 2, 3))
    forest = load_forest(result.forest_bytes())
    assert (forest.predict(x[:50]) == result.forest.predict(x[:50])).all()
