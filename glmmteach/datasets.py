"""The course's data sets.

:func:`vegetables` rebuilds the simulated data of Clay Ford, "Getting Started with Binomial
Generalized Linear Mixed Models" (UVA Library StatLab, 2021) bit for bit, by replaying the
article's R code on R's random number stream (:class:`glmmteach.rcompat.RRandom`).

Two real clustered binary data sets close the course (lesson 07 and exercise 07), shipped as
small CSV files in ``glmmteach/data/`` (no download at run time): :func:`toenail`, a clinical
trial with up to seven visits per patient, and :func:`contraception`, a survey of women in
60 districts. :func:`load` takes a name and :func:`available` lists the names.

Imports only ``glmmteach.warnings``, ``glmmteach._util`` and the other modules at the side
(``rcompat``, ``simulate``, ``datasets``); never ``model``, ``inference``, ``diagnostics`` or
``course``.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources

import pandas as pd

from glmmteach import simulate
from glmmteach.rcompat import RRandom

__all__ = ["available", "contraception", "load", "toenail", "vegetables"]

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


# --------------------------------------------------------------------------------------------
# Real data sets, shipped as CSV files in glmmteach/data/ (no download at run time)
# --------------------------------------------------------------------------------------------

#: Level order of every categorical column of the real data sets (the R packages' order).
TOENAIL_LEVELS = {
    "outcome": ("none or mild", "moderate or severe"),
    "treatment": ("itraconazole", "terbinafine"),
}
CONTRACEPTION_LEVELS = {
    "use": ("N", "Y"),
    "livch": ("0", "1", "2", "3+"),
    "urban": ("N", "Y"),
}

_SCHEMAS = {
    # file name -> (column name -> dtype kind: "int", "float" or a tuple of levels), rows
    "toenail": ({"patientID": "int", "outcome": TOENAIL_LEVELS["outcome"],
                 "treatment": TOENAIL_LEVELS["treatment"], "time": "float", "visit": "int"},
                1908),
    "contraception": ({"woman": "int", "district": "int", "use": CONTRACEPTION_LEVELS["use"],
                       "livch": CONTRACEPTION_LEVELS["livch"], "age": "float",
                       "urban": CONTRACEPTION_LEVELS["urban"]}, 1934),
}


def toenail() -> pd.DataFrame:
    """A clinical trial of two treatments for toenail infection: repeated binary outcomes.

    Patients with a fungal toenail infection (dermatophyte onychomycosis) were randomized to
    12 weeks of terbinafine 250 mg/day or itraconazole 200 mg/day and examined at up to seven
    visits, planned at weeks 0, 4, 8, 12, 24, 36 and 48. At each visit the separation of the
    nail plate from the nail bed (onycholysis) was graded and dichotomized. Not every patient
    came to every visit, nor exactly on time.

    Returns
    -------
    pandas.DataFrame
        1908 rows, **one row per visit of a patient** (294 patients with 1 to 7 visits),
        sorted by patient and visit, with columns

        - ``patientID`` (int): the patient's number in the trial (1..383, with gaps);
        - ``outcome``: categorical, levels ``none or mild``, ``moderate or severe``
          (in this order; as a model response the first level counts as 0, so glmer models
          the probability of *moderate or severe* onycholysis);
        - ``treatment``: categorical, levels ``itraconazole`` (the reference), ``terbinafine``;
        - ``time`` (float, **months** since the first visit): when the visit actually took
          place (0 to 18.5);
        - ``visit`` (int, 1..7): the number of the visit.

        A fresh copy is returned on every call.

    Notes
    -----
    Source: M. De Backer, C. De Vroey, E. Lesaffre, I. Scheys and P. De Keyser (1998),
    "Twelve weeks of continuous oral therapy for toenail onychomycosis caused by
    dermatophytes: a double-blind comparative trial of terbinafine 250 mg/day versus
    itraconazole 200 mg/day", *Journal of the American Academy of Dermatology* 38, S57-S63.
    The data were published with E. Lesaffre and B. Spiessens (2001), "On the effect of the
    number of quadrature points in a logistic random-effects model: an example", *Journal of
    the Royal Statistical Society C* 50, 325-335, who fit
    ``logit P(moderate or severe) = b0 + b1 treatment + b2 time + b3 treatment x time + u``
    and show that its estimates depend on the number of quadrature points: the random-effect
    SD is large (about 4 on the log-odds scale).

    Taken from the R package HSAUR3 (``data("toenail", package = "HSAUR3")``, version
    1.0-13; B. S. Everitt and T. Hothorn, *A Handbook of Statistical Analyses Using R*, 3rd
    ed., 2014), which distributes it under the GPL-2. The values are reproduced unchanged
    (the factor ``patientID`` as its integer labels); ``tools/r_real_datasets.R`` regenerates
    ``glmmteach/data/toenail.csv`` from the package and ``tests/test_real_datasets.py``
    compares the two when R is available. Terms: the data are facts from a published trial,
    shared here for teaching as in the textbooks that use them; cite the trial and HSAUR3.
    """
    return _load_csv("toenail").copy(deep=True)


def contraception() -> pd.DataFrame:
    """Contraceptive use of women in the districts of Bangladesh: one binary outcome per woman.

    From the 1988 Bangladesh Fertility Survey: women in urban and rural areas of 60
    districts, asked whether they were using contraception at the time of the survey. The
    clusters are districts; they hold from 2 to 118 women.

    Returns
    -------
    pandas.DataFrame
        1934 rows, **one row per woman**, sorted by district, with columns

        - ``woman`` (int, 1..1934): the woman's number;
        - ``district`` (int): the district's code, 1..61 (district 54 has no women);
        - ``use``: categorical, levels ``N``, ``Y``: is she using contraception? (as a model
          response, the probability of ``Y`` is modelled);
        - ``livch``: categorical (not ordered), levels ``0``, ``1``, ``2``, ``3+``: her number
          of living children;
        - ``age`` (float, **years**, centred): her age minus the sample's mean age (about
          30 years), so 0 is an average-aged woman;
        - ``urban``: categorical, levels ``N`` (rural, the reference), ``Y`` (urban): where
          she lives.

        A fresh copy is returned on every call.

    Notes
    -----
    Source: the 1988 Bangladesh Fertility Survey (N. M. Huq and J. Cleland, *Bangladesh
    Fertility Survey 1989: Main Report*, National Institute of Population Research and
    Training, Dhaka, 1990), as distributed by the Centre for Multilevel Modelling (University
    of Bristol) for its reviews of multilevel software; mlmRev's help page cites F. Steele,
    I. Diamond and S. Amin (1996), *Journal of the Royal Statistical Society A* 159, 289-299.
    lme4's authors analyse it with ``glmer(use ~ age + I(age^2) + urban + livch +
    (1 | district), family = binomial)`` and with urban/rural random effects,
    ``(urban | district)`` (the examples of mlmRev's help page; D. Bates, *lme4:
    Mixed-effects modeling with R*, draft, 2010, chapter 6).

    Taken from the R package mlmRev (``data("Contraception", package = "mlmRev")``, version
    1.0-8; D. Bates, M. Maechler and M. Qi), distributed under the GPL (>= 2). The values are
    reproduced unchanged (the factors ``woman`` and ``district`` as their integer labels);
    ``tools/r_real_datasets.R`` regenerates ``glmmteach/data/contraception.csv`` and
    ``tests/test_real_datasets.py`` compares the two when R is available. Terms: survey data
    released for research and teaching; cite the survey and mlmRev.
    """
    return _load_csv("contraception").copy(deep=True)


#: Name -> loader of every data set :func:`load` knows.
_LOADERS = {
    "vegetables": vegetables,
    "toenail": toenail,
    "contraception": contraception,
}


def available() -> list[str]:
    """The names :func:`load` accepts, sorted: ``['contraception', 'toenail', 'vegetables']``."""
    return sorted(_LOADERS)


def load(name: str) -> pd.DataFrame:
    """Load a data set by name (``datasets.load("toenail")`` is ``datasets.toenail()``).

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    pandas.DataFrame
        The loader's result (with its default arguments).

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        For an unknown name; the message lists the available data sets.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a data set name (a string), not {type(name).__name__}; "
                        f"available: {', '.join(available())}")
    loader = _LOADERS.get(name.strip().lower())
    if loader is None:
        close = difflib.get_close_matches(name.strip().lower(), available(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"no data set named {name!r}; available: "
                         f"{', '.join(available())}.{hint}")
    return loader()


@functools.cache
def _load_csv(name: str) -> pd.DataFrame:
    columns, n_rows = _SCHEMAS[name]
    path = importlib.resources.files("glmmteach") / "data" / f"{name}.csv"
    with importlib.resources.as_file(path) as file:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False)
    if list(raw.columns) != list(columns) or len(raw) != n_rows:
        raise RuntimeError(
            f"the packaged file data/{name}.csv has columns {list(raw.columns)} and "
            f"{len(raw)} rows, expected {list(columns)} and {n_rows}; reinstall glmmteach "
            "or regenerate it with tools/r_real_datasets.R")
    out = pd.DataFrame(index=pd.RangeIndex(n_rows))
    for col, kind in columns.items():
        values = raw[col]
        if kind == "int":
            out[col] = values.astype("int64")
        elif kind == "float":
            out[col] = values.astype("float64")
        else:
            unknown = sorted(set(values) - set(kind))
            if unknown:
                raise RuntimeError(f"data/{name}.csv: column {col!r} has values {unknown} "
                                   f"outside its levels {list(kind)}")
            out[col] = pd.Categorical(values, categories=list(kind), ordered=False)
    out.attrs = {}
    return out
