# Fit measures of two-level SEMs with covariates (lavaan's fixed.x = TRUE: the model of the indicators given the
# covariates): the within factor regressed on x1-x3 (within-only variables of the twolevel data), and the between
# factor regressed on w1, w2 (cluster-level variables); lavaan's h1 and implied matrices.
# Run from this folder: Rscript multilevel_fit_measures_covariates.R  (writes ../multilevel_fit_measures_covariates.json)
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
d <- read.csv("../../../src/gllamm/datasets/data/twolevel.csv")
models <- list(
  within = "level: 1\n fw =~ y1 + y2 + y3\n fw ~ x1 + x2 + x3\n level: 2\n fb =~ y1 + y2 + y3\n y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3",
  between = "level: 1\n fw =~ y1 + y2 + y3\n level: 2\n fb =~ y1 + y2 + y3\n fb ~ w1 + w2\n y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3")
names_fm <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl",
              "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "rmsea.pvalue", "srmr", "srmr_within", "srmr_between")
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")), R = R.version.string)
for (name in names(models)) {
  fit <- sem(models[[name]], data = d, cluster = "cluster")
  h1 <- lavInspect(fit, "h1")
  implied <- lavInspect(fit, "implied")
  out[[name]] <- list(call = "fitMeasures(sem(model, data = d, cluster = \"cluster\"))", model = models[[name]],
                      loglik = as.numeric(logLik(fit)), fit = as.list(fitMeasures(fit)[names_fm]),
                      h1_within_cov = unname(h1$within$cov), h1_between_cov = unname(h1$cluster$cov),
                      implied_within_cov = unname(implied$within$cov),
                      implied_between_cov = unname(implied$cluster$cov),
                      within_names = colnames(h1$within$cov), between_names = colnames(h1$cluster$cov))
}
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../multilevel_fit_measures_covariates.json")
