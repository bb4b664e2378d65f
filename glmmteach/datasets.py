"""The course's data sets.

:func:`vegetables` rebuilds the simulated data of Clay Ford, "Getting Started with Binomial
Generalized Linear Mixed Models" (UVA Library StatLab, 2021) bit for bit, by replaying the
article's R code on R's random number stream (:class:`glmmteach.rcompat.RRandom`).
"""

from __future__ import annotations

import functools

import pandas as pd

from glmmteach import simulate
from glmmteach.rcompat import RRandom

__all__ = ["vegetables"]

#: The article's design: 250 students observed on 14 days.
N_SUBJECTS = 250
N_DAYS = 14


def vegetables(include_logit: bool = False) -> pd.DataFrame:
    r"""The article's simulated data: did a student eat vegetables on a given day?

    Parameters
    ----------
    include_logit : bool, default False
        Also return ``p2`` and ``y2``, the article's side-note simulation on the logit
        scale, which continues the same random stream.

    Returns
    -------
    pandas.DataFrame
        3500 rows (250 students x 14 days), sorted by ``id`` then ``day``, with columns

        - ``id`` (int, 1..250) and ``day`` (int, 1..14);
        - ``trt``: categorical, levels ``control``, ``treat``;
        - ``sex``: categorical, levels ``female``, ``male``;
        - ``trtsex``: categorical, R's ``interaction(trt, sex)`` with levels
          ``control.female``, ``treat.female``, ``control.male``, ``treat.male``;
        - ``p``: the student's probability (cell probability + random effect);
        - ``y``: 1 if the student ate vegetables that day, else 0 (int);
        - with ``include_logit=True`` also ``p2`` and ``y2`` (logit-scale simulation).

        A fresh copy is returned on every call, so it is safe to modify.

    Notes
    -----
    The R code being replayed (the article's, in order)::

        set.seed(1)
        trt <- sample(c("control", "treat"), size = 250, replace = TRUE)
        sex <- sample(c("female", "male"), size = 250, replace = TRUE)
        # d: expand.grid(id, day) sorted by id, day; trtsex <- interaction(trt, sex)
        set.seed(3)
        d$p <- c(0.40, 0.85, 0.30, 0.50)[d$trtsex] + rnorm(250, 0, 0.03)[d$id]
        d$y <- rbinom(3500, 1, d$p)
        d$p2 <- plogis(-0.4054651 + 2.140066 * treat - 0.4418328 * male
                       - 1.292768 * treat * male + rnorm(250, 0, 0.03)[d$id])
        d$y2 <- rbinom(3500, 1, d$p2)

    that is, for student j (in cell c) on day t,

    .. math::
        p_j = p_c + u_j, \quad u_j \sim N(0, 0.03^2), \quad y_{jt} \sim \mathrm{Bernoulli}(p_j),

    and on the logit scale
    :math:`p_{2,j} = \mathrm{logit}^{-1}(x_j^\top\beta + v_j)`, :math:`v_j \sim N(0, 0.03^2)`.
    The model fit and intervals the article runs between ``y`` and ``p2`` draw no random
    numbers, so ``p2`` follows ``y`` directly on the stream. No probability-scale draw falls
    outside [0, 1] with SD 0.03. ``tests/test_datasets.py`` checks every value against R's
    output (``tools/r_vegetables_reference.R``).
    """
    if not isinstance(include_logit, bool):
        raise TypeError(f"include_logit must be True or False; got {include_logit!r}")
    return _vegetables(include_logit).copy(deep=True)


@functools.lru_cache(maxsize=2)
def _vegetables(include_logit: bool) -> pd.DataFrame:
    design = simulate.make_design(
        N_SUBJECTS, N_DAYS, simulate.ARTICLE_FACTORS, seed=RRandom(1), rng="r"
    )
    stream = RRandom(3)
    naive = simulate.simulate_probability_scale(
        design,
        simulate.ARTICLE_CELL_PROBS,
        sd=simulate.ARTICLE_SD,
        seed=stream,
        rng="r",
        on_impossible="raise",
    )
    out = design.copy()
    out["trtsex"] = simulate.interaction(out, ["trt", "sex"])
    out["p"] = naive["p"].to_numpy()
    out["y"] = naive["y"].to_numpy(dtype="int64")
    if include_logit:
        logit = simulate.simulate_logit_scale(
            design,
            simulate.ARTICLE_LOGIT_COEFS,
            sd=simulate.ARTICLE_SD,
            seed=stream,
            rng="r",
        )
        out["p2"] = logit["p"].to_numpy()
        out["y2"] = logit["y"].to_numpy(dtype="int64")
    out.attrs = {}
    return out
