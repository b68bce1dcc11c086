# Four-level models (pupils in classes in schools in districts) on tests/reference/four_level.csv
# (written by tests/test_four_level.py::_simulate, seed 1).
# Run from this folder:  Rscript four_level.R   (writes ../four_level_laplace.json, ../four_level_lmer.json and
# ../four_level_lmer_slope.json)
library(lme4)
library(jsonlite)
d <- read.csv("../four_level.csv")

laplace_call <- "glmer(y ~ x + (1 | cls) + (1 | school) + (1 | district), data = d, family = binomial, nAGQ = 1, control = glmerControl(optimizer = 'bobyqa', tolPwrss = 1e-10, optCtrl = list(maxfun = 1e5)))"
lmer_call <- "lmer(g ~ x + (1 | cls) + (1 | school) + (1 | district), data = d, REML = FALSE, control = lmerControl(optimizer = 'bobyqa', optCtrl = list(maxfun = 1e5)))"
slope_call <- "lmer(g2 ~ x + (1 | cls) + (1 + x | school) + (1 | district), data = d, REML = FALSE, control = lmerControl(optimizer = 'bobyqa', optCtrl = list(maxfun = 1e5)))"

summarise <- function(fit, call, with_ranef) {
  vc <- as.data.frame(VarCorr(fit))
  res <- list(
    engine = "lme4", engine_version = as.character(packageVersion("lme4")), call = call,
    loglik = as.numeric(logLik(fit)), nobs = nobs(fit),
    fixef = as.list(fixef(fit)), fixef_se = as.list(sqrt(diag(as.matrix(vcov(fit))))),
    varcorr = lapply(seq_len(nrow(vc)), function(i) list(grp = vc$grp[i], var1 = vc$var1[i], var2 = vc$var2[i],
                                                      vcov = vc$vcov[i]))
  )
  if (with_ranef) {  # conditional modes and conditional SDs of the first five units of every level
    re <- ranef(fit, condVar = TRUE)
    res$ranef <- lapply(re, function(r) {
      keep <- order(rownames(r))[1:5]
      list(label = rownames(r)[keep], mode = r[keep, 1], sd = sqrt(attr(r, "postVar")[1, 1, keep]))
    })
  }
  res
}
write_json <- function(x, path) writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), path)
write_json(summarise(eval(parse(text = laplace_call)), laplace_call, TRUE), "../four_level_laplace.json")
write_json(summarise(eval(parse(text = lmer_call)), lmer_call, FALSE), "../four_level_lmer.json")
write_json(summarise(eval(parse(text = slope_call)), slope_call, FALSE), "../four_level_lmer_slope.json")
