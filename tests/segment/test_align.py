"""Alignment: tonight's clusters keep last night's segment ids by Hungarian matching of centroids."""

from __future__ import annotations

import numpy as np

from segmint.segment.align import align

PREVIOUS = {3: np.array([0.0, 0.0]), 5: np.array([4.0, 0.0]), 8: np.array([0.0, 4.0])}


def test_permuted_clusters_get_their_old_ids() -> None:
    tonight = np.array([[0.1, 3.9], [0.05, 0.0], [4.2, 0.1]])
    result = align(tonight, PREVIOUS, next_id=9, max_distance=2.0)
    assert list(result.segment_ids()) == [8, 3, 5]
    assert result.vanished == []
    assert all(m.lineage == "matched" for m in result.matches)
    assert result.matches[1].distance is not None and abs(result.matches[1].distance - 0.05) < 1e-9


def test_a_new_cluster_appears_with_a_fresh_id_and_a_lost_one_vanishes() -> None:
    tonight = np.array([[0.0, 0.1], [4.0, 0.1], [9.0, 9.0], [0.1, 4.0]])
    result = align(tonight, PREVIOUS, next_id=9, max_distance=2.0)
    assert list(result.segment_ids()) == [3, 5, 9, 8]
    assert result.matches[2].lineage == "appeared"
    fewer = align(tonight[:2], PREVIOUS, next_id=9, max_distance=2.0)
    assert list(fewer.segment_ids()) == [3, 5] and fewer.vanished == [8]


def test_a_far_match_is_a_new_segment_not_the_old_one_moved() -> None:
    tonight = np.array([[0.0, 0.0], [4.0, 0.0], [6.0, 6.0]])
    result = align(tonight, PREVIOUS, next_id=9, max_distance=2.0)
    assert list(result.segment_ids()) == [3, 5, 9]
    assert result.vanished == [8]


def test_without_history_ids_count_up() -> None:
    result = align(np.zeros((3, 2)), None, next_id=1, max_distance=2.0)
    assert list(result.segment_ids()) == [1, 2, 3]
