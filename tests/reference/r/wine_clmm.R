# Ordinal references from R's ordinal package for gllamm's family="ordinal".
# Run from this folder:  Rscript wine_clmm.R   (writes ../wine_*.json)
library(ordinal)
library(jsonlite)
wine <- read.csv("../../../src/gllamm/datasets/data/wine.csv")
wine$rating <- factor(wine$rating, ordered = TRUE)
wine$judge <- factor(wine$judge)

out <- function(fit, call, file, engine) {
  se <- sqrt(diag(vcov(fit)))
  res <- list(engine = engine, engine_version = as.character(packageVersion("ordinal")), call = call,
              loglik = as.numeric(logLik(fit)), nobs = nobs(fit),
              coef = as.list(coef(fit)), coef_se = as.list(setNames(se[seq_along(coef(fit))], names(coef(fit)))))
  if (inherits(fit, "clmm")) res$varcorr <- list(list(grp = "judge", vcov = as.numeric(VarCorr(fit)$judge)))
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), file)
}

for (link in c("probit", "cloglog")) {
  call <- sprintf("clmm(rating ~ temp_warm + contact_yes + (1 | judge), data = wine, link = '%s', nAGQ = 10)", link)
  out(eval(parse(text = call)), call, sprintf("../wine_%s.json", link), "ordinal::clmm")
}
call <- "clm(rating ~ temp_warm + contact_yes, data = wine, link = 'logit')"
out(eval(parse(text = call)), call, "../wine_clm.json", "ordinal::clm")
call <- "clm(rating ~ temp_warm + contact_yes, scale = ~ contact_yes, data = wine, link = 'probit')"
out(eval(parse(text = call)), call, "../wine_clm_scale.json", "ordinal::clm")
