r"""Power analysis by simulation for the course's repeated-binary design.

A power analysis asks: *if* the effect we care about is really there, with a given size, how
often would a study of a given size detect it? For a binomial GLMM there is no exact formula,
but the question has a plain simulation answer (Gelman and Hill 2007, ch. 20; Green and
MacLeod 2016):

1. fix the truth: log-odds coefficients (here the article's, from its cell probabilities
   0.40, 0.85, 0.30, 0.50) and the random-intercept SD;
2. for each number of subjects, simulate many studies from that truth
   (:func:`glmmteach.simulate.simulate_logit_scale` on a :func:`balanced_design`);
3. fit the model to each simulated study and test the effect (a Wald z test, or a
   likelihood-ratio test against the model without it);
4. the power is the share of studies whose test rejects at level ``alpha``.

:func:`power_curve` does this with a progress bar (``tqdm``), on several processes
(``joblib``), reproducibly: every simulated study draws from its own
:class:`numpy.random.SeedSequence` child, so a seed gives the same studies, the same fits
and the same power whatever ``n_jobs`` is. The fits use
:meth:`glmmteach.GlmerResult.refit`, warm-started from one template fit per study size,
which is what makes a few thousand fits take seconds. :func:`approximate_power` gives the
large-sample answer in closed form for comparison.

References
----------
Gelman, A. and Hill, J. (2007). *Data Analysis Using Regression and Multilevel/Hierarchical
Models*, chapter 20. Cambridge University Press.

Green, P. and MacLeod, C. J. (2016). SIMR: an R package for power analysis of generalized
linear mixed models by simulation. *Methods in Ecology and Evolution* 7(4), 493-498.

Top layer: may import anything below it (``diagnostics``, ``inference``, ``model``,
``_util``); nothing outside ``glmmteach.course`` imports it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach import simulate
from glmmteach._util.runtime import check_n_jobs, run_tasks
from glmmteach._util.validate import check_open_unit
from glmmteach.warnings import ConvergenceWarning, SingularFitWarning

__all__ = [
    "balanced_design",
    "approximate_power",
    "power_curve",
    "PowerResult",
    "mc_standard_error",
    "plot_power_curves",
    "plot_z_distribution",
    "power_explorer",
]

Seed = int | np.integer | np.random.Generator | np.random.SeedSequence | None


# --------------------------------------------------------------------------------------------
# design and closed form
# --------------------------------------------------------------------------------------------


def balanced_design(
    n_subjects: int,
    n_days: int = 14,
    factors: Mapping[str, Sequence[str]] = simulate.ARTICLE_FACTORS,
) -> pd.DataFrame:
    """Subjects by days with the subjects spread evenly over the cells of the design.

    A planned study allocates subjects to the cells on purpose, so a power analysis uses a
    balanced design: subject ``j`` (1-based) goes to cell ``(j - 1) mod C`` of the ``C``
    cells, in R's ``interaction()`` order (first factor varying fastest). When
    ``n_subjects`` is not a multiple of ``C`` the first cells get one subject more.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (at least 1).
    n_days : int
        Observations per subject (at least 1).
    factors : mapping of str to sequence of str
        Between-subject factors and their levels (first level = reference).

    Returns
    -------
    pandas.DataFrame
        ``n_subjects * n_days`` rows sorted by id then day, with the columns of
        :func:`glmmteach.simulate.make_design` (``id``, ``day``, one categorical per factor).
    """
    n_subjects = simulate.check_count(n_subjects, "n_subjects")
    n_days = simulate.check_count(n_days, "n_days")
    factors = _factors(factors)
    cells = simulate.cell_combinations(factors)  # R's interaction() order
    ids = np.repeat(np.arange(1, n_subjects + 1), n_days)
    days = np.tile(np.arange(1, n_days + 1), n_subjects)
    frame = pd.DataFrame({"id": ids.astype(np.int64), "day": days.astype(np.int64)})
    cell_of_subject = (np.arange(n_subjects) % len(cells))[ids - 1]
    for k, (name, levels) in enumerate(factors.items()):
        labels = np.array([c[k] for c in cells], dtype=object)[cell_of_subject]
        frame[name] = pd.Categorical(labels, categories=list(levels))
    return frame


def approximate_power(
    n_subjects: int | Sequence[int],
    *,
    n_days: int = 14,
    coefs: Mapping[str, float] | pd.Series = simulate.ARTICLE_LOGIT_COEFS,
    sd: float = simulate.ARTICLE_SD,
    factors: Mapping[str, Sequence[str]] = simulate.ARTICLE_FACTORS,
    term: str = "trttreat:sexmale",
    alpha: float = 0.05,
) -> pd.DataFrame:
    r"""Large-sample power of the two-sided Wald test of one coefficient, in closed form.

    Parameters
    ----------
    n_subjects : int or sequence of int
        Study sizes (subjects, spread evenly over the cells as in :func:`balanced_design`).
    n_days : int
        Observations per subject.
    coefs : mapping or Series
        The true log-odds coefficients of the saturated model (R's names).
    sd : float
        The true random-intercept SD on the log-odds scale.
    factors : mapping of str to sequence of str
        Factor names and levels.
    term : str
        The coefficient to test (R's name).
    alpha : float
        Significance level of the two-sided test.

    Returns
    -------
    pandas.DataFrame
        One row per size: ``n_subjects``, ``se`` (the approximate standard error of the
        estimate) and ``power``.

    Notes
    -----
    In the saturated model every coefficient is a signed sum of cell log-odds, e.g. the
    interaction :math:`\beta_3 = \eta_{tm} - \eta_{cm} - \eta_{tf} + \eta_{cf}`
    (:func:`glmmteach.simulate.probs_to_coefs`). A cell with :math:`n_c` subjects observed
    on :math:`T` days estimates its log-odds with variance approximately

    .. math:: v_c = \frac{1}{n_c}\left(\frac{1}{T p_c (1 - p_c)} + \sigma^2\right),

    binomial noise within subjects plus the spread between subjects (delta method; exact as
    :math:`\sigma \to 0`, a little optimistic for large :math:`\sigma`). Then
    :math:`\mathrm{se}^2 = \sum_c v_c` over the cells in the sum, and the power of the test
    that rejects when :math:`|\hat\beta / \mathrm{se}| > z_{1 - \alpha/2}` is

    .. math::
        \Phi\left(\frac{|\beta|}{\mathrm{se}} - z_{1-\alpha/2}\right)
        + \Phi\left(-\frac{|\beta|}{\mathrm{se}} - z_{1-\alpha/2}\right).
    """
    sizes = _sizes(n_subjects)
    factors = _factors(factors)
    sd = simulate.check_sd(sd)
    alpha = check_open_unit(alpha, "alpha")
    beta = _coef_series(coefs, factors)
    if term not in beta.index:
        raise ValueError(f"term {term!r} is not a coefficient; choose one of {list(beta.index)}")
    weights = _term_weights(factors)[term]
    p = simulate.coefs_to_probs(beta, factors).to_numpy()
    per_subject = 1.0 / (n_days * p * (1.0 - p)) + sd**2
    z_crit = stats.norm.isf(alpha / 2)
    rows = []
    for n in sizes:
        counts = np.bincount(np.arange(n) % len(p), minlength=len(p)).astype(float)
        used = weights != 0
        if np.any(counts[used] == 0):
            se = math.inf
        else:
            se = math.sqrt(float(np.sum(weights[used] ** 2 * per_subject[used] / counts[used])))
        shift = abs(float(beta[term])) / se
        power = stats.norm.cdf(shift - z_crit) + stats.norm.cdf(-shift - z_crit)
        rows.append({"n_subjects": n, "se": se, "power": float(power)})
    return pd.DataFrame(rows)


def mc_standard_error(power: float | np.ndarray, nsim: int | np.ndarray) -> float | np.ndarray:
    r"""Monte-Carlo standard error of a simulated power (or any simulated proportion).

    Parameters
    ----------
    power : float or array
        The simulated proportion :math:`\hat\pi` of rejections.
    nsim : int or array
        The number of simulated studies it is based on.

    Returns
    -------
    float or ndarray
        :math:`\sqrt{\hat\pi (1 - \hat\pi) / n_{sim}}`: the rejections are a binomial count.
    """
    power = np.asarray(power, dtype=float)
    nsim = np.asarray(nsim, dtype=float)
    out = np.sqrt(power * (1.0 - power) / nsim)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# the simulation
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Spec:
    """Everything a worker needs to simulate and fit one study size (hashable)."""

    n_days: int
    factors: tuple[tuple[str, tuple[str, ...]], ...]
    coefs: tuple[tuple[str, float], ...]
    sd: float
    term: str
    test: str
    alpha: float
    entropy: int

    @property
    def factor_map(self) -> dict[str, tuple[str, ...]]:
        return dict(self.factors)

    @property
    def formula(self) -> str:
        return "y ~ " + " * ".join(self.factor_map) + " + (1|id)"

    @property
    def null_formula(self) -> str:
        names = list(self.factor_map)
        fixed = "1" if len(names) == 1 else "(" + " + ".join(names) + f")^{len(names) - 1}"
        return f"y ~ {fixed} + (1|id)"


@dataclasses.dataclass(frozen=True)
class PowerResult:
    """The outcome of :func:`power_curve`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per study size: ``n_subjects``, ``nsim`` (studies simulated), ``n_failed``
        (fits that raised an error; excluded from the power and reported, never hidden),
        ``n_singular`` (fits with a variance estimated as 0), ``n_not_converged`` (fits
        with a convergence warning; kept), ``rejections``, ``power`` (rejections among the
        successful fits), ``mc_se`` (:func:`mc_standard_error`) and ``lower``/``upper`` (a
        95% Wilson interval for the power: the Monte-Carlo error bars).
    draws : pandas.DataFrame
        One row per simulated study: ``n_subjects``, ``replicate``, ``estimate``, ``se``,
        ``statistic`` (z or chi-squared), ``p_value``, ``reject``, ``singular``,
        ``converged``, ``error`` (the message of a failed fit, else empty).
    settings : dict
        The arguments, including the seed's ``entropy`` (pass it as ``seed`` to repeat a
        run made with ``seed=None``).
    elapsed : float
        Wall-clock seconds.
    """

    table: pd.DataFrame
    draws: pd.DataFrame
    settings: dict
    elapsed: float

    def summary(self, approximation: bool = True) -> pd.DataFrame:
        """The main columns of :attr:`table`, with :func:`approximate_power` as ``approx``.

        Columns: ``n_subjects``, ``rejections``, ``power``, ``mc_se``, ``lower``, ``upper``,
        ``n_singular``, ``n_failed`` and (with ``approximation``) ``approx``.
        """
        cols = ["n_subjects", "rejections", "power", "mc_se", "lower", "upper", "n_singular",
                "n_failed"]
        out = self.table[cols].copy()
        if approximation:
            s = self.settings
            approx = approximate_power(s["n_subjects"], n_days=s["n_days"], coefs=s["coefs"],
                                       sd=s["sd"], factors=s["factors"], term=s["term"],
                                       alpha=s["alpha"])
            out["approx"] = approx["power"].to_numpy()
        return out

    def smallest_n(self, target: float = 0.8) -> int | None:
        """The smallest simulated study size whose estimated power reaches ``target``."""
        ok = self.table[self.table["power"] >= target]
        return None if ok.empty else int(ok["n_subjects"].min())

    def plot(self, ax=None, target: float = 0.8, approximation: bool = True):
        """The power curve with Monte-Carlo error bars; see :func:`plot_power_curves`."""
        return plot_power_curves([self], ax=ax, target=target, approximation=approximation)

    def __repr__(self) -> str:
        s = self.settings
        return (f"<PowerResult: {s['test']} test of {s['term']!r}, sd={s['sd']:g}, "
                f"{len(self.table)} sizes x {s['nsim']} studies, {self.elapsed:.1f} s>")


def power_curve(
    n_subjects: Sequence[int],
    *,
    n_days: int = 14,
    coefs: Mapping[str, float] | pd.Series = simulate.ARTICLE_LOGIT_COEFS,
    sd: float = simulate.ARTICLE_SD,
    factors: Mapping[str, Sequence[str]] = simulate.ARTICLE_FACTORS,
    term: str = "trttreat:sexmale",
    test: str = "wald",
    alpha: float = 0.05,
    nsim: int = 200,
    seed: Seed = None,
    n_jobs: int = 1,
    progress: bool = True,
    chunk_size: int | None = None,
) -> PowerResult:
    r"""Estimate the power to detect one coefficient, for several study sizes, by simulation.

    Parameters
    ----------
    n_subjects : sequence of int
        Study sizes to try (subjects; each is spread evenly over the cells,
        :func:`balanced_design`).
    n_days : int
        Observations per subject.
    coefs : mapping or Series
        True log-odds coefficients of the saturated model ``y ~ f1 * f2``, R's names
        (default: the article's -0.4054651, 2.140066, -0.4418328, -1.292768).
    sd : float
        True random-intercept SD on the log-odds scale (default the article's 0.03).
    factors : mapping of str to sequence of str
        Factor names and levels (default the article's ``trt`` and ``sex``).
    term : str
        The coefficient to detect (default the treatment-by-sex interaction).
    test : {"wald", "lrt"}
        ``"wald"``: two-sided Wald z test of ``term`` in the full model (what the summary's
        ``Pr(>|z|)`` column reports). ``"lrt"``: likelihood-ratio test of the full model
        against the model without the highest-order interaction (then ``term`` must be that
        interaction); twice the fits, no standard errors needed.
    alpha : float
        Significance level.
    nsim : int
        Simulated studies per size. The Monte-Carlo standard error of a power near 0.8 is
        :math:`\sqrt{0.8 \cdot 0.2 / n_{sim}}`: 0.028 for 200 studies.
    seed : int, numpy Generator, SeedSequence or None
        Root of the random numbers. The same seed gives the same result whatever
        ``n_jobs`` and ``chunk_size`` are.
    n_jobs : int
        Worker processes (``joblib``; 1 runs in this process, -1 uses every core).
    progress : bool
        Show a ``tqdm`` progress bar (a widget in Jupyter, text elsewhere).
    chunk_size : int, optional
        Studies per task sent to a worker (default: about ``nsim / 4``, at most 50).

    Returns
    -------
    PowerResult

    Raises
    ------
    ValueError
        For empty or non-positive sizes, ``nsim < 1``, ``alpha`` outside (0, 1), an unknown
        ``test`` or ``term``, or ``test="lrt"`` with a ``term`` that is not the
        highest-order interaction.

    Notes
    -----
    Seeds: a :class:`numpy.random.SeedSequence` is built from ``seed``; for a study size
    ``n`` its child with ``spawn_key=(n,)`` is spawned into ``nsim + 1`` children. Child 0
    simulates the data of a template fit (whose optimum is the warm start of every refit
    at that size), children 1..nsim simulate the studies. Each study's data, and so its
    fit, depend only on its own child: that is why the result does not depend on how the
    studies are shared among processes, and why adding a size does not change the others.

    A fit that raises an error counts in ``n_failed`` and is left out of the power's
    denominator; singular fits (common with a small true SD: see lesson 06) and fits with
    convergence warnings are kept, as an analyst would keep them, and counted.
    """
    sizes = _sizes(n_subjects)
    factors = _factors(factors)
    n_days = simulate.check_count(n_days, "n_days")
    sd = simulate.check_sd(sd)
    alpha = check_open_unit(alpha, "alpha")
    if isinstance(nsim, bool) or not isinstance(nsim, numbers.Integral) or nsim < 1:
        raise ValueError(f"nsim must be a whole number >= 1; got {nsim!r}")
    if test not in ("wald", "lrt"):
        raise ValueError(f"test must be 'wald' or 'lrt'; got {test!r}")
    beta = _coef_series(coefs, factors)
    if term not in beta.index:
        raise ValueError(f"term {term!r} is not a coefficient; choose one of {list(beta.index)}")
    top = beta.index[-1]
    if test == "lrt" and term != top:
        raise ValueError(
            f"test='lrt' compares the model with and without the highest-order interaction "
            f"{top!r}; use test='wald' to test {term!r}")
    n_jobs = check_n_jobs(n_jobs)
    if chunk_size is None:
        chunk_size = max(1, min(50, -(-nsim // 4)))
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")

    root = _seed_sequence(seed)
    spec = _Spec(
        n_days=int(n_days),
        factors=tuple((k, tuple(v)) for k, v in factors.items()),
        coefs=tuple((k, float(v)) for k, v in beta.items()),
        sd=sd, term=term, test=test, alpha=alpha, entropy=int(root.entropy),
    )
    tasks = []
    for n in sizes:
        children = _size_sequence(spec, n).spawn(nsim + 1)[1:]
        for start in range(0, nsim, chunk_size):
            reps = list(range(start, min(nsim, start + chunk_size)))
            tasks.append((n, reps, [children[r] for r in reps]))

    t0 = time.perf_counter()
    rows = run_tasks(_run_chunk, [(spec, n, reps, seqs) for n, reps, seqs in tasks],
                     n_jobs=n_jobs, total=len(sizes) * nsim, desc=f"power, sd={sd:g}",
                     progress=progress)
    elapsed = time.perf_counter() - t0

    draws = (pd.DataFrame(rows).sort_values(["n_subjects", "replicate"])
             .reset_index(drop=True))
    table = _summarise(draws, sizes)
    settings = {"n_subjects": list(sizes), "n_days": int(n_days), "coefs": dict(spec.coefs),
                "sd": sd, "factors": factors, "term": term, "test": test, "alpha": alpha,
                "nsim": int(nsim), "entropy": spec.entropy, "n_jobs": n_jobs,
                "formula": spec.formula}
    if test == "lrt":
        settings["null_formula"] = spec.null_formula
    return PowerResult(table=table, draws=draws, settings=settings, elapsed=elapsed)


def _size_sequence(spec: _Spec, n: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(spec.entropy, spawn_key=(int(n),))


@dataclasses.dataclass(frozen=True)
class _Template:
    """What every simulated study of one size shares."""

    eta: np.ndarray  # fixed-effect log-odds per row
    subject: np.ndarray  # subject index (0 .. n-1) per row
    full: object  # GlmerResult: the template fit of the model (warm start of the refits)
    null: object  # GlmerResult or None: the model without the tested interaction (LRT)


@functools.lru_cache(maxsize=64)
def _templates(spec: _Spec, n: int) -> _Template:
    """Design and template fits for one study size (cached per process)."""
    from glmmteach.model.fit import glmer

    design = balanced_design(n, spec.n_days, spec.factor_map)
    template_seed = _size_sequence(spec, n).spawn(1)[0]
    data = simulate.simulate_logit_scale(design, dict(spec.coefs), sd=spec.sd,
                                         factors=spec.factor_map,
                                         seed=np.random.default_rng(template_seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = glmer(spec.formula, data)
        null = glmer(spec.null_formula, data) if spec.test == "lrt" else None
    subject = pd.factorize(design["id"], sort=True)[0]
    return _Template(eta=data["eta"].to_numpy(), subject=subject, full=full, null=null)


def _simulate_response(template: _Template, sd: float,
                       seq: np.random.SeedSequence) -> np.ndarray:
    """One study's 0/1 responses: the draws of simulate.simulate_logit_scale, bit for bit.

    Same generator calls in the same order (one normal per subject, then one Bernoulli per
    row) on the same fixed log-odds, without re-validating the design for every study
    (that validation is a quarter of the cost of a study); a test checks the equality.
    """
    rng = np.random.default_rng(seq)
    n_subjects = int(template.subject.max()) + 1
    u = rng.normal(0.0, sd, size=n_subjects) if sd > 0 else np.zeros(n_subjects)
    p = simulate.inv_logit(template.eta + u[template.subject])
    return rng.binomial(1, p).astype(float)


def _run_chunk(spec: _Spec, n: int, reps: list[int],
               seqs: list[np.random.SeedSequence]) -> list[dict]:
    """Simulate and test the studies ``reps`` of size ``n`` (runs in a worker)."""
    template = _templates(spec, n)
    full_t, null_t = template.full, template.null
    out = []
    for rep, seq in zip(reps, seqs, strict=True):
        row = {"n_subjects": n, "replicate": rep, "estimate": np.nan, "se": np.nan,
               "statistic": np.nan, "p_value": np.nan, "reject": False, "singular": False,
               "converged": True, "error": ""}
        try:
            y = _simulate_response(template, spec.sd, seq)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                full = full_t.refit(y, compute_se=spec.test == "wald")
                null = null_t.refit(y, compute_se=False) if null_t is not None else None
            row["converged"] = not any(issubclass(w.category, ConvergenceWarning)
                                       for w in caught)
            row["singular"] = bool(full.is_singular)
            row["estimate"] = float(full.fixef[spec.term])
            if spec.test == "wald":
                se = float(full.bse[spec.term])
                z = row["estimate"] / se
                row.update(se=se, statistic=z, p_value=float(2 * stats.norm.sf(abs(z))))
            else:
                chisq = max(0.0, 2.0 * (full.loglik - null.loglik))
                df = full.n_params - null.n_params
                row.update(statistic=chisq, p_value=float(stats.chi2.sf(chisq, df)))
            if not math.isfinite(row["p_value"]):
                raise FloatingPointError("the test statistic is not finite")
            row["reject"] = bool(row["p_value"] < spec.alpha)
        except Exception as err:  # noqa: BLE001 - a failed fit is counted, not fatal
            row.update(estimate=np.nan, se=np.nan, statistic=np.nan, p_value=np.nan,
                       reject=False, error=f"{type(err).__name__}: {err}")
        out.append(row)
    return out


def _summarise(draws: pd.DataFrame, sizes: list[int]) -> pd.DataFrame:
    rows = []
    z = stats.norm.isf(0.025)
    for n in sizes:
        d = draws[draws["n_subjects"] == n]
        failed = d["error"] != ""
        ok = d[~failed]
        m = len(ok)
        k = int(ok["reject"].sum())
        power = k / m if m else np.nan
        if m:
            centre = (k + z**2 / 2) / (m + z**2)
            half = z * math.sqrt(k * (m - k) / m + z**2 / 4) / (m + z**2)
            lower, upper = max(0.0, centre - half), min(1.0, centre + half)
        else:
            lower = upper = np.nan
        rows.append({"n_subjects": n, "nsim": len(d), "n_failed": int(failed.sum()),
                     "n_singular": int(ok["singular"].sum()),
                     "n_not_converged": int((~ok["converged"]).sum()),
                     "rejections": k, "power": power,
                     "mc_se": mc_standard_error(power, m) if m else np.nan,
                     "lower": lower, "upper": upper})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# figures and widget
# --------------------------------------------------------------------------------------------


def plot_power_curves(results: Sequence[PowerResult], ax=None, target: float = 0.8,
                      approximation: bool = True, labels: Sequence[str] | None = None):
    """Power against the number of subjects, with Monte-Carlo error bars.

    Parameters
    ----------
    results : sequence of PowerResult
        One curve per result (e.g. two random-effect SDs).
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    target : float
        Draw a horizontal line at this power (None: no line).
    approximation : bool
        Add :func:`approximate_power` as a dashed line of the same colour.
    labels : sequence of str, optional
        Legend labels; by default "SD = ..." of each result.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if isinstance(results, PowerResult):
        results = [results]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 4.3), layout="constrained")
    colours = sns.color_palette(n_colors=max(1, len(results)))
    for k, res in enumerate(results):
        s = res.settings
        t = res.table
        label = labels[k] if labels is not None else f"SD = {s['sd']:g}"
        yerr = np.vstack([t["power"] - t["lower"], t["upper"] - t["power"]])
        ax.errorbar(t["n_subjects"], t["power"], yerr=yerr, fmt="o-", capsize=3,
                    color=colours[k], label=f"{label}: simulation (95% MC interval)")
        if approximation:
            grid = np.arange(min(t["n_subjects"]), max(t["n_subjects"]) + 1)
            approx = approximate_power([int(g) for g in grid], n_days=s["n_days"],
                                       coefs=s["coefs"], sd=s["sd"], factors=s["factors"],
                                       term=s["term"], alpha=s["alpha"])
            ax.plot(approx["n_subjects"], approx["power"], "--", color=colours[k], alpha=0.8,
                    label=f"{label}: large-sample approximation")
    if target is not None:
        ax.axhline(target, color="grey", lw=1, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Number of subjects (balanced over the cells)")
    ax.set_ylabel("Power (share of studies that detect the effect)")
    term = results[0].settings["term"]
    ax.set_title(f"Power to detect {term} by simulation")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_z_distribution(result: PowerResult, n_subjects: int, ax=None):
    """Histogram of the simulated test statistics at one study size, with the critical values.

    Parameters
    ----------
    result : PowerResult
        From :func:`power_curve` with ``test="wald"`` (z statistics) or ``"lrt"``.
    n_subjects : int
        One of the simulated sizes.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    d = result.draws[(result.draws["n_subjects"] == n_subjects) & (result.draws["error"] == "")]
    if d.empty:
        raise ValueError(f"n_subjects={n_subjects!r} is not among the simulated sizes "
                         f"{result.settings['n_subjects']}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    alpha = result.settings["alpha"]
    wald = result.settings["test"] == "wald"
    stat = d["statistic"]
    sns.histplot(x=stat, hue=d["reject"].map({True: "rejects", False: "does not reject"}),
                 hue_order=["does not reject", "rejects"], bins=30, ax=ax,
                 palette={"rejects": "#4C72B0", "does not reject": "#C44E52"})
    crit = stats.norm.isf(alpha / 2) if wald else stats.chi2.isf(alpha, 1)
    for c in ([-crit, crit] if wald else [crit]):
        ax.axvline(c, color="black", ls="--", lw=1)
    power = d["reject"].mean()
    ax.set_xlabel("Wald z statistic of the estimate" if wald else "Likelihood-ratio statistic")
    ax.set_ylabel("Number of simulated studies")
    ax.set_title(f"{n_subjects} subjects: {100 * power:.0f}% of the studies reject")
    # counts are whole numbers; the legend goes outside so that it hides no critical line
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                        title="test")
    return ax


def power_explorer(result: PowerResult):
    """A slider over the simulated study sizes showing the test statistics at that size.

    Parameters
    ----------
    result : PowerResult

    Returns
    -------
    ipywidgets.VBox
        Children: a selection slider (the sizes), an HTML summary (power with its
        Monte-Carlo interval, singular fits) and an Output with :func:`plot_z_distribution`.
    """
    import ipywidgets as w

    from glmmteach.course.widgets import draw_into

    sizes = [int(n) for n in result.table["n_subjects"]]
    slider = w.SelectionSlider(options=sizes, value=sizes[len(sizes) // 2],
                               description="subjects", continuous_update=False)
    summary = w.HTML()
    out = w.Output()

    def update(_change=None) -> None:
        row = result.table.set_index("n_subjects").loc[slider.value]
        summary.value = (
            f"<b>{slider.value} subjects</b>: {int(row.rejections)} of "
            f"{int(row.nsim - row.n_failed)} simulated studies reject "
            f"(power {row.power:.3f}, 95% Monte-Carlo interval {row.lower:.3f} to "
            f"{row.upper:.3f}); {int(row.n_singular)} fits estimated the SD as 0.")
        draw_into(out, lambda ax: plot_z_distribution(result, slider.value, ax=ax),
                  figsize=(6.5, 3.8))

    slider.observe(update, names="value")
    update()
    return w.VBox([slider, summary, out])


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _factors(factors) -> dict[str, tuple[str, ...]]:
    # the simulate module's checks give the messages students already know
    simulate.coef_names(factors)
    return {str(k): tuple(v) for k, v in factors.items()}


def _n_cells(factors: Mapping[str, Sequence[str]]) -> int:
    return int(np.prod([len(v) for v in factors.values()]))


def _coef_series(coefs, factors) -> pd.Series:
    names = simulate.coef_names(factors)
    simulate.coefs_to_probs(coefs, factors)  # validates names and values
    if isinstance(coefs, Mapping | pd.Series):
        return pd.Series({n: float(coefs[n]) for n in names})
    return pd.Series([float(v) for v in coefs], index=names)


def _term_weights(factors) -> dict[str, np.ndarray]:
    """Each coefficient as a signed sum of cell log-odds: ``{name: weights per cell}``."""
    n_cells = _n_cells(factors)
    base = simulate.probs_to_coefs([0.5] * n_cells, factors)  # all log-odds 0
    out = {name: np.zeros(n_cells) for name in base.index}
    for k in range(n_cells):
        eta = np.zeros(n_cells)
        eta[k] = 1.0
        coefs = simulate.probs_to_coefs(list(simulate.inv_logit(eta)), factors) - base
        for name, v in coefs.items():
            out[name][k] = round(float(v))
    return out


def _sizes(n_subjects) -> list[int]:
    if isinstance(n_subjects, numbers.Integral) and not isinstance(n_subjects, bool):
        n_subjects = [n_subjects]
    try:
        sizes = list(n_subjects)
    except TypeError:
        raise ValueError(f"n_subjects must be a positive integer or a sequence of them; got "
                         f"{n_subjects!r}") from None
    if not sizes:
        raise ValueError("n_subjects is empty; give at least one study size")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n_subjects must hold positive integers; got {n!r}")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"n_subjects has repeated sizes: {sizes}")
    return sorted(int(n) for n in sizes)




def _seed_sequence(seed: Seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, a numpy Generator, a SeedSequence "
                         f"or None; got {seed!r}")
    return np.random.SeedSequence(int(seed))
