"""Keep segment ids stable: match tonight's clusters to the last published run's by centroid (Hungarian)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Match:
    """What one of tonight's clusters became: an old segment's id (matched) or a new one (appeared)."""

    cluster: int
    segment_id: int
    previous_segment_id: int | None
    distance: float | None

    @property
    def lineage(self) -> str:
        """matched or appeared."""
        return "matched" if self.previous_segment_id is not None else "appeared"


@dataclass(frozen=True)
class Alignment:
    """Tonight's clusters mapped to segment ids, and the previous segments nobody matched."""

    matches: list[Match]
    vanished: list[int]

    def segment_ids(self) -> npt.NDArray[np.int64]:
        """segment id by cluster index."""
        ids = np.empty(len(self.matches), dtype=np.int64)
        for m in self.matches:
            ids[m.cluster] = m.segment_id
        return ids


def align(
    centroids: Matrix,
    previous: dict[int, Matrix] | None,
    next_id: int,
    max_distance: float,
) -> Alignment:
    """Match clusters to previous segments minimising total centroid distance; the rest get new ids.

    `centroids` (k x d) and the previous centroids must be in the same (tonight's) scaled space.
    A pair further apart than `max_distance` is not a match: that segment vanished and a new one
    appeared. New ids count up from `next_id`, in cluster order, so a rerun gives the same ids.
    """
    k = len(centroids)
    if not previous:
        return Alignment([Match(c, next_id + c, None, None) for c in range(k)], [])
    prev_ids = sorted(previous)
    prev = np.vstack([previous[i] for i in prev_ids])
    cost = np.sqrt(((centroids[:, None, :] - prev[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(cost)
    matched: dict[int, tuple[int, float]] = {}
    for r, c in zip(rows, cols, strict=True):
        if cost[r, c] <= max_distance:
            matched[int(r)] = (prev_ids[int(c)], float(cost[r, c]))
    matches = []
    fresh = next_id
    for cluster in range(k):
        if cluster in matched:
            seg, dist = matched[cluster]
            matches.append(Match(cluster, seg, seg, dist))
        else:
            matches.append(Match(cluster, fresh, None, None))
            fresh += 1
    used = {m.previous_segment_id for m in matches}
    return Alignment(matches, [i for i in prev_ids if i not in used])
