"""Inference on fitted models: likelihood-ratio tests (``anova``).

Imports ``glmmteach.model``, ``glmmteach._util`` and other ``inference`` modules; never
``diagnostics`` or ``course``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from glmmteach.model.results import GlmerResult

__all__ = ["anova", "AnovaTable"]


class AnovaTable(pd.DataFrame):
    """The table :func:`anova` returns: a DataFrame that prints a blank where R does.

    The first model has no test, so its ``Chisq``, ``Df`` and ``Pr(>Chisq)`` are missing
    (NaN / ``<NA>``); printed, they show as blanks, as in R. The values themselves stay
    missing (``pd.isna`` is True), so code can test for them.
    """

    @property
    def _constructor(self):
        return AnovaTable

    def _for_display(self, formatters) -> tuple[pd.DataFrame, object]:
        # pandas prints an integer column's missing value as <NA> whatever na_rep or a
        # formatter says: hand it over as a blank text, which a formatter passes through.
        named = dict(formatters) if isinstance(formatters, dict) else formatters
        frame = pd.DataFrame(self)
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.Int64Dtype):
                frame[col] = pd.Series(["" if pd.isna(v) else int(v) for v in frame[col]],
                                       index=frame.index, dtype=object)
                if isinstance(named, dict) and col in named:
                    named[col] = (lambda f: lambda v: "" if isinstance(v, str) else f(v))(
                        named[col])
        return frame, named

    def to_string(self, *args, **kwargs) -> str:
        """As :meth:`pandas.DataFrame.to_string`, with blanks for missing values."""
        kwargs.setdefault("na_rep", "")
        frame, formatters = self._for_display(kwargs.get("formatters"))
        if formatters is not None:
            kwargs["formatters"] = formatters
        return frame.to_string(*args, **kwargs)

    def __repr__(self) -> str:
        return self.to_string()

    def _repr_html_(self) -> str:
        return self._for_display(None)[0].to_html(na_rep="")


def anova(*models: GlmerResult, names: list[str] | None = None) -> pd.DataFrame:
    """Likelihood-ratio tests between nested models, as lme4's ``anova(m1, m2, ...)``.

    Parameters
    ----------
    *models : GlmerResult
        Two or more models fitted to the same observations; they are sorted by their number
        of parameters, and each is tested against the previous one.
    names : list of str, optional
        Row labels; by default each model's formula.

    Returns
    -------
    DataFrame
        Columns npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq).

    Notes
    -----
    ``Chisq = 2 (logLik_big - logLik_small)`` is referred to a chi-squared distribution with
    ``Df`` = the difference in the number of parameters. For a variance tested at its boundary
    (0) this p-value is conservative (the null distribution is a mixture).
    """
    if len(models) < 2:
        raise ValueError("anova needs at least two fitted models to compare")
    for i, m in enumerate(models):
        if not isinstance(m, GlmerResult):
            raise TypeError(f"argument {i + 1} is a {type(m).__name__}, not a fitted glmer model")
    if names is None:
        names = [m.formula for m in models]
    if len(names) != len(models):
        raise ValueError(f"names has {len(names)} labels for {len(models)} models")
    nobs = {m.nobs for m in models}
    if len(nobs) > 1:
        raise ValueError(
            f"the models were fitted to different numbers of observations ({sorted(nobs)}); "
            "likelihood-ratio tests need the same rows (check for missing values)")
    y0 = np.asarray(models[0].design.y)
    for m in models[1:]:
        if not np.array_equal(np.asarray(m.design.y), y0):
            raise ValueError("the models were fitted to different responses; anova compares "
                             "models of the same data")
    order = sorted(range(len(models)), key=lambda i: models[i].n_params)
    rows = []
    prev = None
    for i in order:
        m = models[i]
        row = {"npar": m.n_params, "AIC": m.aic, "BIC": m.bic, "logLik": m.loglik,
               "deviance": m.deviance, "Chisq": np.nan, "Df": np.nan, "Pr(>Chisq)": np.nan}
        if prev is not None:
            chisq = max(0.0, 2.0 * (m.loglik - prev.loglik))
            df = m.n_params - prev.n_params
            row["Chisq"] = chisq
            row["Df"] = df
            row["Pr(>Chisq)"] = stats.chi2.sf(chisq, df) if df > 0 else np.nan
        rows.append(row)
        prev = m
    out = pd.DataFrame(rows, index=[names[i] for i in order])
    out["npar"] = out["npar"].astype(int)
    out["Df"] = out["Df"].astype("Int64")
    return AnovaTable(out)
