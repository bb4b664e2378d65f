# Reference values for tests/test_design.py: R's model.matrix column names (two column
# checksums, and the columns a rank-revealing qr(tol = 1e-7, LAPACK = FALSE) leaves out, which is
# what lme4 drops) for a set of fixed-effect formulas, and lme4's random-term structure (term order,
# grouping-factor names, cnms, levels) from glFormula, on a small deterministic data set that
# the test rebuilds in Python (no random numbers).
#
# Usage (from the repository root):  Rscript tools/r_design_reference.R
# Prints Python literals; paste them into tests/test_design.py (R_MODEL_MATRIX, R_RANDOM).
# Checked with R 4.2.2, lme4 1.1-31.
suppressMessages(library(lme4))

n <- 24
i <- 0:(n - 1)
d <- data.frame(
  x = (i %% 7) - 3 + i / 10,
  z = ((i * 5) %% 11) / 3 + 1,
  trt = c("control", "treat")[(i %% 2) + 1],
  sex = c("female", "male")[((i %/% 2) %% 2) + 1],
  f3 = c("lo", "mid", "hi")[(i %% 3) + 1],
  lg = (i %% 4) < 2,
  c3 = factor(c("z", "y", "x")[((i %/% 3) %% 3) + 1], levels = c("z", "y", "x")),
  num = c(10, 2, 33)[((i %/% 4) %% 3) + 1],
  o = factor(c("lo", "mid", "hi")[((i %/% 2) %% 3) + 1], levels = c("lo", "mid", "hi"),
             ordered = TRUE),
  cs = c("b", "B", "a", "A")[(i %% 4) + 1],
  a = c("p", "q")[((i %/% 3) %% 2) + 1],
  b = c("u", "v", "w")[((i %/% 5) %% 3) + 1],
  g5 = paste0("g", (i %% 5) + 1),
  g12 = paste0("h", sprintf("%02d", (i %% 12) + 1)),
  y = c(0, 1, 1, 0, 1, 0, 0, 1)[(i %% 8) + 1]
)

formulas <- c(
  "y ~ trt * sex", "y ~ trt + trt:x", "y ~ 0 + trt", "y ~ trt:x", "y ~ x:trt", "y ~ trt:sex",
  "y ~ x * z", "y ~ f3", "y ~ c3", "y ~ lg", "y ~ I(x^2) + x", "y ~ (trt + sex + x)^2",
  "y ~ trt * sex - trt:sex", "y ~ x + offset(z)", "y ~ C(c3)", "y ~ trt * x - 1",
  "y ~ trt + x:trt:sex", "y ~ 0 + x + trt", "y ~ 0 + x:trt", "y ~ 0 + trt:sex",
  "y ~ 0 + trt + sex", "y ~ -1 + x + trt * sex", "y ~ x + x:trt", "y ~ sex:trt + trt",
  "y ~ f3 * trt", "y ~ trt/x", "y ~ trt/f3", "y ~ 0 + f3:trt", "y ~ 0 + f3 + f3:trt",
  "y ~ x:z + trt", "y ~ I(x*2) + I(x**2) + I(x-1) + I(-x) + I(x/2+ z)",
  "y ~ log(z) + exp(x/4)", "y ~ sex + trt:sex:f3", "y ~ trt * sex * f3 - trt:sex:f3",
  "y ~ 1", "y ~ factor(num)", "y ~ trt:f3 + trt:sex", "y ~ 0 + x + x:trt",
  "y ~ x:z + trt:x", "y ~ 0 + trt:sex + sex:f3", "y ~ 0 + sex:x + trt:sex", "y ~ x %in% trt",
  "y ~ (trt + sex)/x", "y ~ o", "y ~ 0 + o", "y ~ o:x", "y ~ cs", "y ~ I(x > 0) + sqrt(z)",
  "y ~ (trt + x) * (sex + z)", "y ~ trt * lg", "y ~ num"
)
py <- function(s) if (length(s)) paste0("\"", gsub("\"", "\\\\\"", s), "\"") else character(0)
num <- function(v) sprintf("%.17g", v)
cat("R_MODEL_MATRIX = {\n")
for (f in formulas) {
  mm <- model.matrix(as.formula(f), d)
  qrx <- qr(mm, tol = 1e-7, LAPACK = FALSE)
  dropped <- if (qrx$rank < ncol(mm)) colnames(mm)[qrx$pivot[(qrx$rank + 1):ncol(mm)]] else c()
  cat("    ", py(f), ": (\n        [", paste(py(colnames(mm)), collapse = ", "), "],\n",
      "        [", paste(num(colSums(mm)), collapse = ", "), "],\n",
      "        [", paste(num(colSums(mm * seq_len(n))), collapse = ", "), "],\n",
      "        [", paste(py(dropped), collapse = ", "), "],\n    ),\n",
      sep = "")
}
cat("}\n\n")

random <- c(
  "y ~ x + (1 | g5) + (1 | g12)", "y ~ x + (1 | g12) + (1 | g5)",
  "y ~ x + (1 + x || g5) + (1 | g12)", "y ~ x + (1 | a/b)", "y ~ x + (1 | a:b)",
  "y ~ x + (1 | sex) + (1 | trt) + (1 | g5)", "y ~ x + (1 | trt) + (1 | sex)",
  "y ~ x + (1 | c3/a)", "y ~ x + (1 | a/c3/sex)", "y ~ x + (trt | g5)", "y ~ x + (0 + f3 | g5)",
  "y ~ x + (f3 + x | g5)", "y ~ x + (x * trt | g5)", "y ~ x + (lg | g5)", "y ~ x + (0 + x + z | g5)",
  "y ~ x + (x - 1 | g5)", "y ~ x + (x || g5) + (1 | a)", "y ~ x + (1 | cs)"
)
cat("R_RANDOM = {\n")
for (f in random) {
  rt <- glFormula(as.formula(f), d, family = binomial,
                  control = glmerControl(check.nobs.vs.nRE = "ignore",
                                         check.nobs.vs.nlev = "ignore",
                                         check.nlev.gtreq.5 = "ignore"))$reTrms
  cat("    ", py(f), ": [\n", sep = "")
  for (k in seq_along(rt$cnms)) {
    g <- names(rt$cnms)[k]
    lev <- levels(rt$flist[[g]])
    cat("        (", py(g), ", [", paste(py(rt$cnms[[k]]), collapse = ", "), "], [",
        paste(py(lev), collapse = ", "), "]),\n", sep = "")
  }
  cat("    ],\n")
}
cat("}\n")
