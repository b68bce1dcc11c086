# Laplace (nAGQ = 1) for a three-level random-intercept logit: lme4's joint Laplace over both levels.
# Data: tests/reference/three_level_logit.csv (written by tests/test_three_level.py::_simulate, seed 3).
# Run from this folder:  Rscript three_level_laplace.R   (writes ../three_level_laplace.json)
library(lme4)
library(jsonlite)
d <- read.csv("../three_level_logit.csv")
call <- "glmer(y ~ x + (1 | comm) + (1 | mom), data = d, family = binomial, nAGQ = 1, control = glmerControl(optimizer = 'bobyqa', tolPwrss = 1e-10, optCtrl = list(maxfun = 1e5)))"
fit <- eval(parse(text = call))
vc <- as.data.frame(VarCorr(fit))
res <- list(
  engine = "lme4::glmer", engine_version = as.character(packageVersion("lme4")), call = call,
  loglik = as.numeric(logLik(fit)), nobs = nobs(fit),
  fixef = as.list(fixef(fit)), fixef_se = as.list(sqrt(diag(as.matrix(vcov(fit))))),
  varcorr = lapply(seq_len(nrow(vc)), function(i) list(grp = vc$grp[i], var1 = vc$var1[i], vcov = vc$vcov[i]))
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), "../three_level_laplace.json")
