"""lme4's profile of a singular fit with a 3 x 3 random-effect term, for tests/test_intervals.py.

The model is ``cbind(s, f) ~ x + trt + (trt | id)`` on ``singular_slopes_data()`` from
tests/test_intervals.py (numpy's generator, so R reads the data from a CSV file written here);
its correlation matrix is singular at the estimate. lme4's ``confint(profile(m))`` takes
about 150 s, too slow for the test suite, so this script stores:

* ``LME4_SINGULAR_CONFINT``: ``confint(pp)`` with ``pp <- profile(m, which = "theta_")``
  (95 %, ``signames = FALSE`` names);
* ``LME4_SINGULAR_PROFILE``: the points lme4 evaluated along each profile, as
  ``(parameter, value, zeta)``, keeping those with a valid covariance matrix (lme4 also
  records points whose implied correlation matrix is indefinite, or a correlation beyond 1,
  where its deviance is not that of any model) and ``|zeta| <= 2.6``;
* ``LME4_SINGULAR_DEVIANCE``: ``-2 logLik(m)`` at lme4's estimate (its zeta is relative to it);
* the R and lme4 versions.

Usage (from the repository root, with R and lme4 installed):
    .venv/bin/python tools/r_profile_singular_reference.py
Prints Python literals; paste them into tests/test_intervals.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import roracle  # noqa: E402
from test_intervals import SINGULAR_FORMULA, singular_slopes_data  # noqa: E402

R_CODE = r"""
d <- .read_data(meta)
m <- glmer(as.formula(formula), data = d, family = binomial)
pp <- suppressWarnings(profile(m, which = "theta_", signames = FALSE))
ci <- suppressWarnings(confint(pp))
write.csv(as.data.frame(pp), file.path(out_dir, "profile.csv"), row.names = FALSE)
write.csv(data.frame(parameter = rownames(ci), lower = ci[, 1], upper = ci[, 2]),
          file.path(out_dir, "confint.csv"), row.names = FALSE)
writeLines(c(R.version.string, as.character(packageVersion("lme4")),
             sprintf("%.17g", -2 * as.numeric(logLik(m)))), file.path(out_dir, "versions.txt"))
"""


def _valid(row: pd.Series, names: list[str]) -> bool:
    """The row's SDs and correlations form a covariance matrix (positive semi-definite)."""
    sds = [n for n in names if n.startswith("sd_")]
    cols = [n[3:].rsplit("|", 1)[0] for n in sds]
    q = len(cols)
    R = np.eye(q)
    for n in names:
        if n.startswith("cor_"):
            pair = n[4:].rsplit("|", 1)[0]
            for a in range(q):
                for b in range(q):
                    if a != b and pair == f"{cols[a]}.{cols[b]}":
                        R[a, b] = R[b, a] = row[n]
    if np.any(np.abs(R) > 1.0) or np.any(np.array([row[n] for n in sds]) < 0):
        return False
    return bool(np.linalg.eigvalsh(R).min() >= -1e-8)


def main() -> None:
    data = singular_slopes_data()
    with tempfile.TemporaryDirectory(prefix="profile-singular-") as tmp:
        tmp_path = Path(tmp)
        meta = roracle._write_csv(data, tmp_path / "data.csv")
        script = (roracle._R_PRELUDE + f"\nmeta <- {roracle._r_literal(meta)}\n"
                  f"formula <- {roracle._r_string(SINGULAR_FORMULA.replace(' ', ''))}\n"
                  f"out_dir <- {roracle._r_string(tmp)}\n" + R_CODE)
        (tmp_path / "profile.R").write_text(script)
        proc = subprocess.run([roracle.find_rscript(), "--vanilla", str(tmp_path / "profile.R")],
                              capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        prof = pd.read_csv(tmp_path / "profile.csv")
        ci = pd.read_csv(tmp_path / "confint.csv")
        versions = (tmp_path / "versions.txt").read_text().split("\n")
    names = [c for c in prof.columns if c.startswith(("sd_", "cor_"))]
    print(f"# {versions[0]}, lme4 {versions[1]}")
    print(f"LME4_SINGULAR_DEVIANCE = {float(versions[2])!r}  # -2 logLik at lme4's estimate")
    print("LME4_SINGULAR_CONFINT = {")
    for _, r in ci.iterrows():
        print(f"    {r.parameter!r}: ({float(r.lower)!r}, {float(r.upper)!r}),")
    print("}")
    print("LME4_SINGULAR_PROFILE = [")
    for _, r in prof.iterrows():
        if abs(r[".zeta"]) <= 2.6 and r[".zeta"] != 0 and _valid(r, names):
            print(f"    ({r['.par']!r}, {float(r[r['.par']])!r}, {float(r['.zeta'])!r}),")
    print("]")


if __name__ == "__main__":
    main()
