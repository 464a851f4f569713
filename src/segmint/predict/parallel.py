"""How many threads scikit-learn may use: one for small fits, all cores for large ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

#: Below this many rows a fit takes seconds on one core, while OpenMP's spinning threads slow it down up to
#: tenfold when the other core is busy (measured on 2 cores: 1.2 s on one thread, 10.6 s on two under load).
PARALLEL_MIN_ROWS = 100_000


def n_jobs(n_rows: int) -> int:
    """joblib's n_jobs for a fit on `n_rows` rows."""
    return -1 if n_rows >= PARALLEL_MIN_ROWS else 1


@contextmanager
def threads_for(n_rows: int) -> Iterator[None]:
    """Limit OpenMP and BLAS to one thread for fits on fewer than PARALLEL_MIN_ROWS rows."""
    if n_rows >= PARALLEL_MIN_ROWS:
        yield
        return
    with threadpool_limits(limits=1):
        yield
