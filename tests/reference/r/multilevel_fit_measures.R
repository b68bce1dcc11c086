# Fit measures of two-level SEMs (lavaan's fitMeasures: chisq against the unrestricted two-level model, baseline of
# uncorrelated variables at both levels, CFI, TLI, RMSEA, SRMR total/within/between) and the unrestricted model's
# within and between covariance matrices and means (lavInspect(fit, "h1"); the overall mean is their sum).
# Run from this folder: Rscript multilevel_fit_measures.R  (writes ../multilevel_fit_measures.json). R 4.2, lavaan 0.6-14.
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
d <- read.csv("../../../src/gllamm/datasets/data/twolevel.csv")
models <- list(
  basic = "level: 1\n fw =~ y1 + y2 + y3\n level: 2\n fb =~ y1 + y2 + y3\n y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3",
  paths = paste0("level: 1\n f1 =~ y1 + y2 + y3\n f2 =~ y4 + y5 + y6\n f2 ~ f1\n",
                 "level: 2\n b1 =~ y1 + y2 + y3\n b2 =~ y4 + y5 + y6\n",
                 " y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3\n y4 ~~ 0*y4\n y5 ~~ 0*y5\n y6 ~~ 0*y6"))
names_fm <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl",
              "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "rmsea.pvalue", "srmr", "srmr_within", "srmr_between")
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")))
for (name in names(models)) {
  fit <- sem(models[[name]], data = d, cluster = "cluster")
  h1 <- lavInspect(fit, "h1")
  out[[name]] <- list(call = "fitMeasures(sem(model, data = d, cluster = \"cluster\"))", model = models[[name]],
                      loglik = as.numeric(logLik(fit)), fit = as.list(fitMeasures(fit)[names_fm]),
                      h1_within_cov = unname(h1$within$cov), h1_between_cov = unname(h1$cluster$cov),
                      h1_between_mean = unname(h1$cluster$mean), h1_within_mean = unname(h1$within$mean))
}
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../multilevel_fit_measures.json")
