"""Run-time settings: BLAS thread limits and the one seeded parallel runner.

``single_threaded_blas`` is the context every fit runs in; ``run_tasks`` runs independent,
seeded chunks of work (bootstrap refits, power-analysis studies) serially or on joblib's
workers with a progress bar. Results never depend on ``n_jobs`` or on the joblib backend
(``joblib.parallel_config(backend="dask")`` sends them to a Dask cluster): every chunk carries
its own :class:`numpy.random.SeedSequence` children, spawned by the caller.

Package-private; imports nothing from glmmteach.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence

__all__ = ["single_threaded_blas", "check_n_jobs", "run_tasks"]

_BLAS = None


def single_threaded_blas():
    """A context in which BLAS uses one thread.

    The fitter works with many small matrices (one block per subject, a small Schur
    complement); OpenBLAS's threads then cost far more than they save, especially on a
    busy 2-core machine (measured: 3x slower fits on the article's data).
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def check_n_jobs(n_jobs) -> int:
    """``n_jobs`` as joblib takes it: 1 for no parallelism, -1 for all CPUs, never 0."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(
            f"n_jobs must be a non-zero whole number (1: no parallelism, -1: all CPUs), "
            f"not {n_jobs!r}")
    return int(n_jobs)


def run_tasks(function: Callable, tasks: Iterable[Sequence], *, n_jobs: int, total: int,
              desc: str, progress: bool, unit: str = "fit") -> list:
    """Run ``function(*task)`` for every task and return the results in task order.

    Parameters
    ----------
    function : callable
        Returns a list (one entry per unit of work in the chunk); with ``n_jobs != 1`` it must
        be picklable (a module-level function).
    tasks : iterable of argument tuples
    n_jobs : int
        1 runs in this process; otherwise joblib's ``Parallel(n_jobs)`` with whatever backend
        is active (``joblib.parallel_config``).
    total : int
        Units of work in all, for the progress bar.
    desc, progress, unit
        The ``tqdm`` progress bar's label, whether to show it, and its unit.
    """
    bar, handle = _progress_bar(total, desc, progress, unit)
    out: list = []
    try:
        if n_jobs == 1:
            results = (function(*task) for task in tasks)
        else:
            from joblib import Parallel, delayed

            # "generator" (joblib >= 1.3) yields each chunk as soon as it and those before it
            # are done, so the bar moves while the workers run
            results = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(function)(*task) for task in tasks)
        for chunk in results:
            out.extend(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()
        if handle is not None:  # the notebook keeps the bar's final state, not "0%"
            handle.update(bar.container)
    return out


def _progress_bar(total: int, desc: str, progress: bool, unit: str):
    """A ``tqdm`` bar, and in Jupyter the display handle of its widget.

    A notebook stores a widget's plain-text copy as it was when first shown ("0%"), so a
    saved or exported notebook would read as if nothing had run; displaying the bar through a
    handle lets the final state replace it.
    """
    from tqdm.auto import tqdm

    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:  # pragma: no cover - tqdm without its notebook module
        notebook_tqdm = None
    if progress and notebook_tqdm is not None and issubclass(tqdm, notebook_tqdm):
        from IPython.display import display

        bar = tqdm(total=total, desc=desc, unit=unit, display=False)
        return bar, display(bar.container, display_id=True)
    return tqdm(total=total, desc=desc, disable=not progress, unit=unit), None
