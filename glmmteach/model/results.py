"""The fitted model: estimates, variance components, predictions, simulation, summary.

A :class:`GlmerResult` is created once by :func:`glmmteach.glmer` and not changed after;
methods that "change" a fit (``refit``) return a new object.

Imports only other ``glmmteach.model`` modules, ``glmmteach._util`` and
``glmmteach.warnings``; never ``inference``, ``diagnostics`` or ``course``.
"""

from __future__ import annotations

import math
import re as _re

import numpy as np
import pandas as pd

from glmmteach._util import rformat as rf
from glmmteach._util import validate as _validate
from glmmteach.model.family import Binomial
from glmmteach.model.optimize import OptResult
from glmmteach.model.summary import Summary

__all__ = ["GlmerResult", "check_fitted_model"]


class GlmerResult:
    """A fitted binomial generalized linear mixed model.

    Created by :func:`glmmteach.glmer`; read-only. The names mirror lme4 where the course
    meets them (``fixef``, ``ranef``, ``varcorr``, ``predict(re_form=...)``).

    Attributes
    ----------
    fixef : pandas.Series
        Fixed-effect estimates on the link (log-odds for logit) scale.
    bse : pandas.Series
        Their standard errors.
    vcov : pandas.DataFrame
        Covariance matrix of the fixed effects.
    theta : ndarray
        Relative covariance parameters in lme4's order (``getME(m, "theta")``).
    varcorr : pandas.DataFrame
        Variance components in the layout of R's ``as.data.frame(VarCorr(m))``.
    loglik, aic, bic, deviance : float
        Log-likelihood (binomial coefficients included, as lme4), information criteria,
        and ``-2 loglik`` (the "deviance" column of lme4's summary).
    nobs, df_resid : int
        Number of observations (rows) and residual degrees of freedom.
    """

    def __init__(self, *, model, opt: OptResult, state) -> None:
        self._model = model
        self._opt = opt
        self._state = state

    # ------------------------------------------------------------------ basic facts
    @property
    def model(self):
        """The :class:`~glmmteach.model.fit.GlmerModel` that was fitted (design, family,
        nAGQ, random-effects structure); ``model.deviance()`` gives the objective."""
        return self._model

    @property
    def opt(self) -> OptResult:
        """The optimizer's result: ``phi = (theta, beta)``, the objective value ``fun``, its
        Hessian, the fixed effects' covariance, convergence messages (lme4's ``optinfo``)."""
        return self._opt

    @property
    def u(self) -> np.ndarray:
        """The spherical conditional modes ``u`` at the estimates (lme4's
        ``getME(m, "u")``); the random effects are ``b = Lambda(theta) u``."""
        return np.array(self._state.u, dtype=float)

    @property
    def formula(self) -> str:
        return self._model.design.formula

    @property
    def family(self) -> Binomial:
        return self._model.family

    @property
    def nAGQ(self) -> int:
        return self._model.nAGQ

    @property
    def design(self):
        """The model frame and matrices the model was fitted to."""
        return self._model.design

    @property
    def data(self) -> pd.DataFrame:
        """The rows used in the fit (after removing rows with missing values)."""
        return self._model.design.data

    @property
    def nobs(self) -> int:
        return int(len(self._model.design.y))

    @property
    def n_params(self) -> int:
        """Number of estimated parameters: covariance parameters plus fixed effects."""
        return int(len(self._opt.phi))

    @property
    def df_resid(self) -> int:
        return self.nobs - self.n_params

    @property
    def theta(self) -> np.ndarray:
        return self._opt.theta.copy()

    @property
    def beta(self) -> np.ndarray:
        return self._opt.beta.copy()

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(self._opt.beta.copy(), index=list(self._model.design.xnames),
                         name="Estimate")

    @property
    def vcov(self) -> pd.DataFrame:
        names = list(self._model.design.xnames)
        return pd.DataFrame(self._opt.vcov_beta.copy(), index=names, columns=names)

    @property
    def bse(self) -> pd.Series:
        """Standard errors; NaN where the covariance's diagonal is negative (a Hessian that
        is not positive definite, already reported by a ConvergenceWarning)."""
        var = np.diag(self._opt.vcov_beta).astype(float)
        se = np.full(var.shape, np.nan)
        np.sqrt(var, out=se, where=var >= 0)
        return pd.Series(se,
                         index=list(self._model.design.xnames),
                         name="Std. Error")

    @property
    def loglik(self) -> float:
        return -0.5 * float(self._opt.fun)

    @property
    def deviance(self) -> float:
        """``-2 loglik``, the "deviance" column of lme4's summary table.

        (lme4's ``deviance()`` of a GLMM is a different quantity, the sum of squared deviance
        residuals plus penalty; glmmteach reports the one a likelihood-ratio test uses.)
        """
        return float(self._opt.fun)

    @property
    def aic(self) -> float:
        return self.deviance + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        return self.deviance + self.n_params * math.log(self.nobs)

    @property
    def is_singular(self) -> bool:
        """True when a variance is (nearly) 0 or a correlation (nearly) +/-1 (lme4's rule)."""
        diag = np.isfinite(self._model.re.lower)
        return bool(np.any(self._opt.theta[diag] < 1e-4))

    @property
    def converged(self) -> bool:
        """False when the gradient or Hessian check failed (see ``optimizer_messages``)."""
        return bool(self._opt.converged)

    @property
    def optimizer_messages(self) -> list[str]:
        return list(self._opt.messages)

    @property
    def optinfo(self) -> dict:
        """How the optimum was found (lme4's ``m@optinfo``): ``method``, ``evaluations`` (of
        the deviance), ``iterations``, ``converged``, ``messages``, ``start`` (which start
        the kept optimum came from) and ``restarts`` (``(start, deviance)`` of every start
        tried after a failed convergence check; empty when none was needed)."""
        o = self._opt
        return {"method": o.method, "evaluations": int(o.evaluations),
                "iterations": int(o.iterations), "converged": bool(o.converged),
                "messages": list(o.messages), "start": o.start,
                "restarts": list(o.restarts)}

    @property
    def ngrps(self) -> dict[str, int]:
        """Number of levels of each grouping factor."""
        out: dict[str, int] = {}
        for t in self._model.design.terms:
            out.setdefault(t.group, len(t.levels))
        return out

    # ------------------------------------------------------------------ variance components
    def _term_covariances(self) -> list[np.ndarray]:
        return [T @ T.T for T in self._model.re.term_T(self._opt.theta)]

    @property
    def varcorr(self) -> pd.DataFrame:
        """Variance components like R's ``as.data.frame(VarCorr(m))``.

        One row per variance (``var2`` missing) followed by one row per covariance of each
        term; ``vcov`` holds variances/covariances and ``sdcor`` standard deviations /
        correlations.
        """
        rows = []
        grps = rf.make_unique([t.group for t in self._model.design.terms])
        sdcors = self._model.re.sdcor(self._opt.theta)
        for t, g, S, (sd, cor) in zip(self._model.design.terms, grps, self._term_covariances(),
                                      sdcors):
            for j, name in enumerate(t.cnms):
                rows.append((g, name, np.nan, S[j, j], sd[j]))  # lme4: var2 = NA
            q = len(t.cnms)
            for c in range(q):
                for r in range(c + 1, q):
                    rows.append((g, t.cnms[c], t.cnms[r], S[r, c], cor[r, c]))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    def VarCorr(self) -> pd.DataFrame:  # noqa: N802 - mirrors lme4 for students
        """Alias of :attr:`varcorr`, named as in lme4."""
        return self.varcorr

    # ------------------------------------------------------------------ random effects
    def ranef(self, condvar: bool = True, as_frame: bool = False):
        """Conditional modes of the random effects, with their conditional variances.

        Parameters
        ----------
        condvar : bool
            Attach conditional variances (``attrs["condvar"]``, one ``q x q`` matrix per
            level) to each frame, or the ``condsd`` column in the long form.
        as_frame : bool
            Return one long DataFrame (grpvar, term, grp, condval, condsd) like R's
            ``as.data.frame(ranef(m))`` instead of a dict of wide frames.

        Returns
        -------
        dict of DataFrame or DataFrame
            By grouping factor: index = levels, columns = the term's columns.

        Notes
        -----
        With ``b = Lambda(theta) u`` the conditional mode of ``b`` for level ``j`` is
        ``T u_j`` and its conditional covariance (Laplace approximation) is
        ``T [H^{-1}]_{jj} T'``.
        """
        re = self._model.re
        Ts = re.block_T(self._opt.theta)
        U = re.split_u(self._state.u)
        CV = self._state.factor.cond_var()
        out = {}
        long_rows = []
        for b, T, Ub, Cb in zip(re.blocks, Ts, U, CV):
            terms = [self._model.design.terms[k] for k in b.term_index]
            names = [c for t in terms for c in t.cnms]
            modes = Ub @ T.T
            cov = np.einsum("ij,ljk,mk->lim", T, Cb, T)
            levels = terms[0].levels
            df = pd.DataFrame(modes, index=levels, columns=names)
            if condvar:
                df.attrs["condvar"] = cov
            out[terms[0].group] = df
            sds = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
            for j, name in enumerate(names):
                long_rows.append(pd.DataFrame({
                    "grpvar": terms[0].group, "term": name, "grp": levels,
                    "condval": modes[:, j], "condsd": sds[:, j]}))
        if as_frame:
            res = pd.concat(long_rows, ignore_index=True)
            return res if condvar else res.drop(columns="condsd")
        return out

    # ------------------------------------------------------------------ fitted values
    def _linear_predictor(self, conditional: bool = True) -> np.ndarray:
        d = self._model.design
        eta = np.asarray(d.X) @ self._opt.beta + np.asarray(d.offset)
        if conditional:
            eta = eta + self._model.re.eta(self._model.re.ztilde(self._opt.theta), self._state.u)
        return eta

    @property
    def fitted(self) -> pd.Series:
        """Fitted probabilities, conditional on the estimated random effects."""
        return pd.Series(self._model.family.linkinv(self._linear_predictor()),
                         index=self._model.design.data.index, name="fitted")

    def residuals(self, type: str = "deviance") -> pd.Series:  # noqa: A002 - lme4's name
        """Residuals of the conditional fit.

        Parameters
        ----------
        type : {"deviance", "pearson", "response"}
            ``response``: ``y - mu``; ``pearson``: ``(y - mu) sqrt(n) / sqrt(mu (1 - mu))``;
            ``deviance``: the signed square root of each observation's unit deviance.
        """
        y, n = np.asarray(self._model.design.y), np.asarray(self._model.design.trials)
        mu = self._model.family.linkinv(self._linear_predictor())
        if type == "response":
            r = y - mu
        elif type == "pearson":
            # as R's binomial()$linkinv, keep mu within [eps, 1 - eps]: a fitted probability
            # of exactly 0 or 1 (separation) would otherwise give 0/0 = NaN
            eps = np.finfo(float).eps
            mc = np.clip(mu, eps, 1.0 - eps)
            r = (y - mc) * np.sqrt(n) / np.sqrt(mc * (1.0 - mc))
        elif type == "deviance":
            r = np.sign(y - mu) * np.sqrt(np.maximum(self._model.family.dev_resids(y, n, mu), 0.0))
        else:
            raise ValueError(
                f"type={type!r} is not a residual type; use 'deviance', 'pearson' or 'response'")
        return pd.Series(r, index=self._model.design.data.index, name=f"{type} residuals")

    # ------------------------------------------------------------------ prediction
    def _select_terms(self, re_form) -> list[int]:
        """Which random-effect terms to include, from an R-style ``re_form``."""
        k_all = list(range(len(self._model.design.terms)))
        if re_form is None:
            return k_all
        if re_form is False or (isinstance(re_form, float) and math.isnan(re_form)):
            return []
        if re_form is pd.NA:
            return []
        if not isinstance(re_form, str):
            raise TypeError(
                "re_form must be None (all random effects), '~0' or 'NA' (none), or a "
                f"formula such as '~(1|id)', not {type(re_form).__name__}")
        txt = re_form.strip()
        if txt.upper() == "NA" or _re.fullmatch(r"~\s*0", txt):
            return []
        if not txt.startswith("~"):
            raise ValueError(
                f"re_form={re_form!r} is not understood; use None (all random effects, R's "
                "re.form = NULL), '~0' or 'NA' (population level, R's re.form = NA), or a "
                "formula naming random terms such as '~(1|id)'")
        from glmmteach.model.formula import parse_formula

        try:
            specs = parse_formula("re_form_response " + txt).random
        except ValueError as err:
            raise ValueError(f"re_form={re_form!r} could not be read: {err}") from err
        if not specs:
            raise ValueError(f"re_form={re_form!r} names no random-effect term; use '~0' for "
                             "population-level predictions")
        terms = self._model.design.terms

        def factors(group: str) -> frozenset[str]:
            # a:b and b:a are the same grouping (the interaction of the same factors)
            return frozenset(f.strip() for f in group.replace("(", "").replace(")", "")
                             .split(":"))

        keep: list[int] = []
        for spec in specs:
            same_group = [k for k, t in enumerate(terms)
                          if factors(t.group) == factors(spec.group)]
            exact = [k for k in same_group if terms[k].expr == spec.expr]
            if exact:
                chosen = exact
            elif len(same_group) == 1:
                chosen = same_group
            else:
                model_terms = ", ".join(f"({t.expr} | {t.group})" for t in terms)
                raise ValueError(
                    f"re_form term ({spec.expr} | {spec.group}) is not a random-effect term of "
                    f"the model; its terms are {model_terms}")
            keep += [k for k in chosen if k not in keep]
        return sorted(keep)

    def predict(self, newdata: pd.DataFrame | None = None, re_form=None, type: str = "link",  # noqa: A002
                allow_new_levels: bool = False) -> pd.Series:
        """Predictions on the link or probability scale.

        Parameters
        ----------
        newdata : DataFrame, optional
            Data to predict for; by default the data the model was fitted to.
        re_form : None, str
            Which random effects to condition on, as lme4's ``re.form``: ``None``
            (default, R's ``re.form = NULL``) uses all of them; ``"~0"`` or ``"NA"``
            (R's ``re.form = NA`` or ``~0``) gives population-level predictions with every
            random effect set to 0; ``"~(1|id)"`` uses only the named terms.
        type : {"link", "response"}
            Linear predictor (log-odds for logit) or probability.
        allow_new_levels : bool
            Levels of a grouping factor not seen in the fit get random effect 0 when True;
            otherwise they raise ``ValueError``.

        Returns
        -------
        pandas.Series
            Indexed like ``newdata`` (or the fitted data).
        """
        if type not in ("link", "response"):
            raise ValueError(f"type={type!r}; use 'link' or 'response'")
        keep = self._select_terms(re_form)
        if newdata is None:
            d = self._model.design
            eta = np.asarray(d.X) @ self._opt.beta + np.asarray(d.offset)
            if keep:
                eta = eta + self._re_contribution(keep, None)
            index = self._model.design.data.index
        else:
            if not isinstance(newdata, pd.DataFrame):
                raise TypeError("newdata must be a pandas DataFrame")
            X_new = np.asarray(self._model.design.new_X(newdata), dtype=float)
            off_new = np.asarray(self._model.design.new_offset(newdata), dtype=float)
            eta = X_new @ self._opt.beta + off_new
            if keep:
                new_terms = self._model.design.new_terms(newdata)
                for k in keep:
                    codes, _ = new_terms[k]
                    if np.any(codes < 0) and not allow_new_levels:
                        t = self._model.design.terms[k]
                        raise ValueError(
                            f"newdata has levels of grouping factor {t.group!r} that were not "
                            "in the fitted data; pass allow_new_levels=True to predict them "
                            "with random effect 0, or re_form='~0' for population predictions")
                eta = eta + self._re_contribution(keep, new_terms)
            index = newdata.index
        out = eta if type == "link" else self._model.family.linkinv(eta)
        return pd.Series(out, index=index, name="fit" if type == "link" else "probability")

    def _re_contribution(self, keep: list[int], new_terms) -> np.ndarray:
        """Sum over the kept terms of ``x_i' b_{g(i)}``; unseen levels (code -1) get 0."""
        re = self._model.re
        Ts = re.term_T(self._opt.theta)
        U = re.split_u(self._state.u)
        total = None
        for k in keep:
            bi, c0 = re.term_block[k]
            t = self._model.design.terms[k]
            qk = t.X.shape[1]
            modes = U[bi][:, c0 : c0 + qk] @ Ts[k].T  # b for this term, (levels, q_k)
            if new_terms is None:
                codes, Xk = np.asarray(t.codes), np.asarray(t.X, dtype=float)
            else:
                codes, Xk = new_terms[k]
                Xk = np.asarray(Xk, dtype=float)
            bk = np.where(codes[:, None] >= 0, modes[np.maximum(codes, 0)], 0.0)
            contrib = np.einsum("ij,ij->i", Xk, bk)
            total = contrib if total is None else total + contrib
        return total

    # ------------------------------------------------------------------ simulation
    def simulate(self, nsim: int = 1, seed=None, use_u: bool = False) -> pd.DataFrame:
        """Simulate responses from the fitted model.

        Parameters
        ----------
        nsim : int
            Number of simulated data sets (columns).
        seed : int or numpy.random.Generator, optional
        use_u : bool
            Condition on the estimated random effects (True) or draw new ones for each
            simulation (False, the default, as lme4).

        Returns
        -------
        DataFrame
            One column per simulation (``sim_1``, ...), indexed like the fitted data.
            Values are proportions of successes (0/1 for binary data).
        """
        nsim = _validate.check_nsim(nsim)
        rng = np.random.default_rng(_validate.check_seed(seed))
        d, re = self._model.design, self._model.re
        eta_fixed = np.asarray(d.X) @ self._opt.beta + np.asarray(d.offset)
        Zt = re.ztilde(self._opt.theta)
        n = np.asarray(d.trials)
        n_int = np.round(n).astype(np.int64)
        out = np.empty((len(eta_fixed), nsim))
        for j in range(nsim):
            u = self._state.u if use_u else rng.standard_normal(re.q)
            mu = self._model.family.linkinv(eta_fixed + re.eta(Zt, u))
            out[:, j] = rng.binomial(n_int, mu) / n
        cols = [f"sim_{j + 1}" for j in range(nsim)]
        df = pd.DataFrame(out, index=d.data.index, columns=cols)
        if np.all(n_int == 1):
            df = df.astype(np.int64)
        return df

    def refit(self, new_response, compute_se: bool = True) -> GlmerResult:
        """Fit the same model to a new response, reusing the design.

        Parameters
        ----------
        new_response : array-like or Series
            Proportions of successes (0/1 for binary data), one per fitted row, e.g. a column
            of :meth:`simulate`'s output.
        compute_se : bool
            Compute the Hessian and standard errors (skip for speed in simulation studies
            that need only estimates).
        """
        return self._model.fit(y=new_response, start=self._opt.phi, compute_se=compute_se)

    # ------------------------------------------------------------------ printing
    def summary(self) -> Summary:
        """An lme4-style summary (print it, or let Jupyter show its HTML)."""
        return Summary(self)

    def __repr__(self) -> str:
        fe = ", ".join(f"{k}={v:.4g}" for k, v in self.fixef.items())
        return (f"<GlmerResult {self.formula!r}: logLik={self.loglik:.2f}, nobs={self.nobs}; "
                f"{fe}>")

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def check_fitted_model(m: object, argument: str = "model") -> GlmerResult:
    """A model fitted by :func:`glmmteach.glmer` (a ``GlmerResult``).

    Parameters
    ----------
    m : object
        The value to check.
    argument : str
        The argument's name, for the message.

    Returns
    -------
    GlmerResult
        ``m`` itself.

    Raises
    ------
    TypeError
        For anything else (say a formula, a DataFrame or a statsmodels result).
    """
    if not isinstance(m, GlmerResult):
        raise TypeError(f"{argument} must be a fitted model from glmmteach.glmer(...), not "
                        f"{type(m).__name__}")
    return m
