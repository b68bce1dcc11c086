# Laplace (nAGQ = 1) references from lme4 for gllamm's method="laplace".
# Run from this folder:  Rscript laplace_lme4.R   (writes ../laplace_*.json)
library(lme4)
library(jsonlite)
data_dir <- "../../../src/gllamm/datasets/data"

out <- function(fit, call, file) {
  vc <- as.data.frame(VarCorr(fit))
  res <- list(
    engine = "lme4::glmer", engine_version = as.character(packageVersion("lme4")), call = call,
    loglik = as.numeric(logLik(fit)), nobs = nobs(fit),
    fixef = as.list(fixef(fit)), fixef_se = as.list(sqrt(diag(as.matrix(vcov(fit))))),
    varcorr = lapply(seq_len(nrow(vc)), function(i) list(grp = vc$grp[i], var1 = vc$var1[i],
                     var2 = vc$var2[i], vcov = vc$vcov[i], sdcor = vc$sdcor[i]))
  )
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), file)
}

con <- read.csv(file.path(data_dir, "contraception.csv"))
call <- "glmer(use ~ age + urban + livch1 + livch2 + livch3 + (1 + urban | district), data = con, family = binomial, nAGQ = 1, control = glmerControl(optimizer = 'bobyqa', tolPwrss = 1e-10, optCtrl = list(maxfun = 1e5)))"
fit <- eval(parse(text = call))
out(fit, call, "../laplace_contraception_slope.json")

epi <- read.csv(file.path(data_dir, "epilepsy.csv"))
call <- "glmer(y ~ lbase + trt + lbase_trt + lage + v4 + (1 | subject), data = epi, family = poisson, nAGQ = 1, control = glmerControl(optimizer = 'bobyqa', tolPwrss = 1e-10))"
fit <- eval(parse(text = call))
out(fit, call, "../laplace_epilepsy.json")
