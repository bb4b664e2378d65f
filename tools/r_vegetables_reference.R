# Regenerate tests/data/r_vegetables.csv: the article's simulated data (Clay Ford, "Getting
# Started with Binomial Generalized Linear Mixed Models", UVA Library StatLab, 2021) exactly as
# R builds it, plus the logit-scale columns p2/y2 from the article's side note.
#
# Usage (from the repository root):  Rscript tools/r_vegetables_reference.R
#
# The data-generating calls below are the article's, in the article's order. In the article the
# model fit, predictions and profile intervals sit between `y` and `p2`; none of them draws
# random numbers (checked with R 4.2.2 / lme4 1.1-31: the stream state is unchanged by them),
# so `p2` continues the stream directly after the `rbinom` that made `y`.
n <- 250
id <- seq(n)
day <- 1:14
d <- expand.grid(id = id, day = day)
set.seed(1)
trt <- sample(c("control", "treat"), size = n, replace = TRUE)
sex <- sample(c("female", "male"), size = n, replace = TRUE)
d$trt <- trt[d$id]
d$sex <- sex[d$id]
d <- d[order(d$id, d$day),]
rownames(d) <- NULL
d$trtsex <- interaction(d$trt, d$sex)
probs <- c(0.40, 0.85, 0.30, 0.50)
names(probs) <- levels(d$trtsex)
d$p <- probs[d$trtsex]
set.seed(3)
r_probs <- rnorm(n = n, mean = 0, sd = 0.03)
d$random_p <- r_probs[d$id]
d$p <- d$p + d$random_p
d$y <- rbinom(n = nrow(d), size = 1, prob = d$p)
d$p2 <- plogis(-0.4054651 + 2.140066*(d$trt == "treat") +
  -0.4418328*(d$sex == "male") + -1.292768*(d$trt == "treat")*(d$sex == "male") +
  rnorm(n = n, mean = 0, sd = 0.03)[d$id])
d$y2 <- rbinom(n = nrow(d), size = 1, prob = d$p2)

out <- d[c("id", "day", "trt", "sex", "trtsex", "p", "y", "p2", "y2")]
# 17 significant digits round-trip every double exactly.
out$p <- sprintf("%.17g", out$p)
out$p2 <- sprintf("%.17g", out$p2)
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args) >= 1) args[1] else file.path("tests", "data", "r_vegetables.csv")
write.csv(out, path, row.names = FALSE, quote = FALSE)
cat("wrote", path, "with", nrow(out), "rows\n")
