# Reference values for glmmteach/rcompat.py: R's own random numbers, stored as JSON.
#
# Regenerate (from the repository root, with R >= 3.6; the stored file was made with R 4.2.2):
#
#     Rscript tools/r_rng_reference.R            # writes tests/data/r_rng_reference.json
#     Rscript tools/r_rng_reference.R out.json   # or another path
#
# Only base R is needed. Doubles are written with sprintf("%.17g"), which round-trips every
# IEEE double exactly (jsonlite's `digits` stops at 15 significant digits); NA is written as
# null and infinities as -Infinity / Infinity (accepted by Python's json module).
#
# Layout:
#   meta          R version and RNG kinds
#   random_seed   .Random.seed right after set.seed(seed) for a few seeds (the seeding check)
#   qnorm         p grid and qnorm(p), qnorm(p, lower.tail = FALSE), qnorm(p, 2, 3)
#   cases         one entry per set.seed(seed): the calls made, in order, on one stream, each
#                 with fn (runif / rnorm / sample / rbinom), args named as in R (and as in
#                 RRandom's methods), and the value R returned

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1) args[1] else file.path("tests", "data", "r_rng_reference.json")

RNGkind("Mersenne-Twister", "Inversion", "Rejection")

# ---- a minimal exact JSON writer -----------------------------------------------------------
json_num <- function(x) {
  x <- as.double(x)
  out <- sprintf("%.17g", x)
  out[is.infinite(x) & x > 0] <- "Infinity"
  out[is.infinite(x) & x < 0] <- "-Infinity"
  out[is.na(x)] <- "null"
  out
}

to_json <- function(x) {
  boxed <- inherits(x, "AsIs")
  if (boxed) class(x) <- setdiff(class(x), "AsIs")
  if (is.null(x)) return("null")
  if (is.list(x)) {
    parts <- vapply(x, to_json, "")
    if (!is.null(names(x))) {
      keys <- encodeString(names(x), quote = '"')
      return(paste0("{", paste0(keys, ":", parts, collapse = ","), "}"))
    }
    return(paste0("[", paste(parts, collapse = ","), "]"))
  }
  if (is.character(x)) {
    items <- ifelse(is.na(x), "null", encodeString(x, quote = '"'))
  } else if (is.logical(x)) {
    items <- ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else {
    items <- json_num(x)
  }
  if (length(x) == 1 && !boxed) return(items)
  paste0("[", paste(items, collapse = ","), "]")
}

# ---- recording calls on one stream ---------------------------------------------------------
calls <- NULL
rec <- function(fn, ...) {
  a <- list(...)
  value <- suppressWarnings(do.call(fn, a))
  # Arguments that are vectors stay arrays in JSON; `x` of sample stays a scalar when it is
  # one number (R's sample(n) means 1..n).
  a <- lapply(names(a), function(nm) {
    v <- a[[nm]]
    if (nm == "x" && is.numeric(v) && length(v) == 1) v else if (length(v) > 1) I(v) else v
  })
  names(a) <- names(list(...))
  calls[[length(calls) + 1]] <<- list(fn = fn, args = a, value = I(value))
  invisible(value)
}
new_case <- function(seed, label) {
  calls <<- list()
  set.seed(seed)
  list(seed = seed, label = label)
}
end_case <- function(head) c(head, list(calls = calls))

cases <- list()

# ---- the article's sequences ---------------------------------------------------------------
h <- new_case(1, "article: treatment and sex assignment")
rec("sample", x = c("control", "treat"), size = 250, replace = TRUE)
rec("sample", x = c("female", "male"), size = 250, replace = TRUE)
cases[[length(cases) + 1]] <- end_case(h)

p_vec <- ((1:3500) %% 99 + 0.5) / 100
h <- new_case(3, "vegetables-like: rnorm(250, 0, 0.03) then rbinom(3500, 1, p_vec)")
rec("rnorm", n = 250, mean = 0, sd = 0.03)
rec("rbinom", n = 3500, size = 1, prob = p_vec)
rec("runif", n = 3)
cases[[length(cases) + 1]] <- end_case(h)

# ---- the same mixed sequence for several seeds ---------------------------------------------
mixed <- function() {
  rec("runif", n = 20)
  rec("runif", n = 7, min = -3, max = 5)
  rec("runif", n = 6, min = c(0, 10), max = c(20, 30, 40))
  rec("runif", n = 3, min = 2, max = 2)               # consumes no uniforms
  rec("rnorm", n = 30)
  rec("rnorm", n = 12, mean = c(-1, 0, 10), sd = c(0.5, 2))
  rec("rnorm", n = 4, mean = 5, sd = 0)               # consumes no uniforms
  rec("rnorm", n = 4, mean = c(1, 2), sd = c(0, 3))
  rec("sample", x = c("a", "b", "c", "d", "e"))
  rec("sample", x = letters, size = 10, replace = TRUE)
  rec("sample", x = 10)
  rec("sample", x = 1, size = 3, replace = TRUE)      # one uniform per draw even for m = 1
  rec("sample", x = 257, size = 20)                   # ~half the tries rejected
  rec("sample", x = 65536, size = 10)                 # two 16-bit chunks per try
  rec("sample", x = 65537, size = 10, replace = TRUE)
  rec("sample", x = 1e6, size = 200)
  rec("sample", x = 1e6, size = 200, replace = TRUE)
  rec("sample", x = 2147483647, size = 20)
  rec("sample", x = 3e7, size = 50)                   # R's hashing sampler (useHash)
  rec("rbinom", n = 50, size = 1, prob = 0.3)
  rec("rbinom", n = 40, size = 100, prob = 0.4)       # BTPE (n p = 40)
  rec("rbinom", n = 40, size = 1000, prob = 0.03)     # BTPE (n p = 30)
  rec("rbinom", n = 40, size = 50, prob = 0.9)        # BTPE on 1 - p
  rec("rbinom", n = 40, size = 20, prob = 0.3)        # inversion
  rec("rbinom", n = 40, size = 60, prob = 0.5)        # n p = 30: BTPE
  rec("rbinom", n = 40, size = 59, prob = 0.5)        # n p = 29.5: inversion
  rec("rbinom", n = 60, size = 10000, prob = 0.37)    # BTPE squeeze and Stirling steps
  rec("rbinom", n = 20, size = c(5, 50, 500, 5000), prob = c(0.1, 0.5, 0.7, 0.95))
  rec("rbinom", n = 6, size = c(0, 10), prob = c(0, 1, 0.5))
  rec("rbinom", n = 4, size = 10, prob = c(0.5, 1.5))  # NA for 1.5, no uniform consumed
  rec("runif", n = 2)
}
for (s in c(1, 3, 42, 2021, 123456789, -7, 2147483647, -2147483647)) {
  h <- new_case(s, "mixed sequence")
  mixed()
  cases[[length(cases) + 1]] <- end_case(h)
}

# ---- longer runs of single generators ------------------------------------------------------
h <- new_case(20240611, "rbinom regimes, long")
rec("rbinom", n = 2000, size = 10000, prob = 0.37)
rec("rbinom", n = 2000, size = 500, prob = 0.2)
rec("rbinom", n = 2000, size = 20, prob = 0.3)
rec("rbinom", n = 500, size = 2e8, prob = 0.3)
cases[[length(cases) + 1]] <- end_case(h)

h <- new_case(777, "rnorm and sample, long")
rec("rnorm", n = 2000)
rec("sample", x = 5000)
rec("sample", x = 1e6, size = 1000)
cases[[length(cases) + 1]] <- end_case(h)

# ---- seeding ---------------------------------------------------------------------------------
random_seed <- lapply(c(1, -7, 2147483647), function(s) {
  set.seed(s)
  list(seed = s, random_seed = I(.Random.seed))
})

# ---- qnorm ---------------------------------------------------------------------------------
set.seed(99)
p <- c(1e-300, 1e-100, 1e-20, 1e-12, 1e-10, 1e-5, 0.001, 0.01, 0.025, 0.05, 0.074, 0.075,
       0.0751, 0.1, 0.25, 0.4, 0.5, 0.6, 0.9, 0.925, 0.93, 0.975, 0.99, 1 - 1e-5, 1 - 1e-10,
       1 - 1e-12, 5e-324, 2.2250738585072014e-308, 0, 1,
       runif(200), runif(50, 0.07, 0.08), runif(50, 0.92, 0.93), exp(-runif(100, 0, 700)),
       1 - exp(-runif(50, 0, 36)))
qn <- list(p = I(p), lower = I(qnorm(p)), upper = I(qnorm(p, lower.tail = FALSE)),
           mean2_sd3 = I(qnorm(p, 2, 3)))

out <- list(
  meta = list(r_version = R.version.string, rng_kind = I(RNGkind()),
              generated_by = "tools/r_rng_reference.R"),
  random_seed = random_seed,
  qnorm = qn,
  cases = cases
)
writeLines(to_json(out), out_path)
cat("wrote", out_path, "(", file.size(out_path), "bytes )\n")
