# Regenerate the real data sets shipped in glmmteach/data/ from the R packages they are
# commonly taken from (provenance of glmmteach.datasets.toenail() and .contraception()).
#
#   Rscript tools/r_real_datasets.R [output directory, default glmmteach/data]
#
# Needs the R packages HSAUR3 (toenail) and mlmRev (Contraception); on Debian:
#   apt-get install -y r-cran-hsaur3 r-cran-mlmrev
# The CSVs keep R's column names and factor labels; identifiers are written as integers.
# Numbers are written with 15 significant digits (R's write.csv), which round-trips R's
# doubles to better than 1e-14 relative. tests/test_real_datasets.py compares the shipped
# files with the R packages when Rscript is available.

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else file.path("glmmteach", "data")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

write_one <- function(d, file) {
  write.csv(d, file.path(out, file), row.names = FALSE, quote = TRUE, na = "")
  cat(sprintf("%s: %d rows, %d columns\n", file, nrow(d), ncol(d)))
}

data("toenail", package = "HSAUR3")
toenail <- data.frame(
  patientID = as.integer(as.character(toenail$patientID)),
  outcome = as.character(toenail$outcome),
  treatment = as.character(toenail$treatment),
  time = toenail$time,
  visit = as.integer(toenail$visit)
)
write_one(toenail, "toenail.csv")

data("Contraception", package = "mlmRev")
contraception <- data.frame(
  woman = as.integer(as.character(Contraception$woman)),
  district = as.integer(as.character(Contraception$district)),
  use = as.character(Contraception$use),
  livch = as.character(Contraception$livch),
  age = Contraception$age,
  urban = as.character(Contraception$urban)
)
write_one(contraception, "contraception.csv")
cat(sprintf("HSAUR3 %s, mlmRev %s\n", packageVersion("HSAUR3"), packageVersion("mlmRev")))
