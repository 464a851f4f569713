"""Training rows past `[predict] max_training_rows`: a seeded sample keeping each class's share.

The churn classifier and the CLV models learn as much from 200,000 customers as from millions (the fits'
accuracy on a held-out period differs in the third decimal; bench/RESULTS.md), while their fit time and
memory grow with every row. Scoring always covers every customer.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def training_rows(classes: npt.ArrayLike, max_rows: int | None, seed: int) -> npt.NDArray[np.int64] | None:
    """Row positions of a stratified sample of at most `max_rows` rows, in their order; None to keep all.

    Each class keeps its share of the rows (rounded, at least one row), so a rare outcome is not lost.
    """
    labels = np.asarray(classes)
    if max_rows is None or labels.size <= max_rows:
        return None
    rng = np.random.default_rng(seed)
    values, counts = np.unique(labels, return_counts=True)
    quotas = np.maximum(1, np.floor(counts / labels.size * max_rows).astype(np.int64))
    # Rows lost to rounding go to the largest classes, so the sample has exactly max_rows rows.
    for i in np.argsort(-counts)[: max(0, max_rows - int(quotas.sum()))]:
        quotas[i] += 1
    picked = [
        rng.choice(np.flatnonzero(labels == value), size=min(int(quota), int(count)), replace=False)
        for value, quota, count in zip(values, quotas, counts, strict=True)
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)
