"""The summary's layout against lme4's printed summary (run live; skipped without R).

Numbers may differ in the last digit (lme4's default PIRLS tolerance leaves its optimum a
little short), so the lines are compared by *shape*: every digit replaced by 9.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from crosscheck_models import CASES_BY_NAME
from roracle import find_rscript, require_lme4

import glmmteach as gt


def _shape(line: str) -> str:
    return re.sub(r"\d", "9", line.rstrip())


def _r_summary(case, tmp_path) -> list[str]:
    data = case.data()
    csv = tmp_path / "d.csv"
    data.to_csv(csv, index=False)
    factors = [c for c in data.columns if data[c].dtype == object or str(data[c].dtype) ==
               "category"]
    conv = "".join(f'd${c} <- factor(d${c}); ' for c in factors)
    script = (f'suppressMessages(library(lme4)); d <- read.csv("{csv}"); {conv}'
              f'print(summary(glmer({case.formula}, data = d, family = binomial), '
              'corr = FALSE))')
    out = subprocess.run([find_rscript(), "-e", script], capture_output=True, text=True,
                         check=True, timeout=120)
    return out.stdout.splitlines()


@pytest.mark.parametrize("name", ["observation_level_effect", "correlated_slopes"])
def test_summary_lines_have_lme4_shape(name, tmp_path):
    require_lme4()
    case = CASES_BY_NAME[name]
    ours = str(gt.glmer(case.formula, case.data()).summary()).splitlines()
    theirs = _r_summary(case, tmp_path)

    def block(lines, start, stop):
        i = next(k for k, s in enumerate(lines) if s.startswith(start))
        j = next(k for k in range(i + 1, len(lines)) if lines[k].startswith(stop))
        return [_shape(s) for s in lines[i:j] if s.strip()]

    # information criteria, scaled residuals, random effects, fixed-effect header
    assert block(ours, "     AIC", "Scaled") == block(theirs, "     AIC", "Scaled")
    assert block(ours, "Scaled", "Random") == block(theirs, "Scaled", "Random")
    assert block(ours, "Random effects", "Fixed") == block(theirs, "Random effects", "Fixed")
    fe_ours = block(ours, "Fixed effects", "---")
    fe_r = block(theirs, "Fixed effects", "---")
    assert fe_ours[:2] == fe_r[:2]
    # the estimate and standard-error columns have lme4's widths and decimals
    for a, b in zip(fe_ours[2:], fe_r[2:]):
        assert a.split()[:3] == b.split()[:3]
