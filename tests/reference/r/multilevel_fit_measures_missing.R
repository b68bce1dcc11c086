# Fit measures of two-level SEMs with missing responses (lavaan's missing = "ml": the model and its unrestricted
# two-level model fitted by ML on the observed responses), and the unrestricted model's matrices
# (lavInspect(fit, "h1")) and the model-implied ones (lavInspect(fit, "implied")). Missing values are set by row number i (0-based, as in Python): y1 where i %% 7 == 0,
# y2 where i %% 11 == 3, y3 where i %% 13 == 5, y4 where i %% 5 == 2 (rows with every indicator missing are
# left out by lavaan: ntotal).
# Run from this folder: Rscript multilevel_fit_measures_missing.R  (writes ../multilevel_fit_measures_missing.json).
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
d <- read.csv("../../../src/gllamm/datasets/data/twolevel.csv")
i <- seq_len(nrow(d)) - 1
d$y1[i %% 7 == 0] <- NA
d$y2[i %% 11 == 3] <- NA
d$y3[i %% 13 == 5] <- NA
d$y4[i %% 5 == 2] <- NA
models <- list(
  basic = "level: 1\n fw =~ y1 + y2 + y3\n level: 2\n fb =~ y1 + y2 + y3\n y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3",
  paths = paste0("level: 1\n f1 =~ y1 + y2 + y3\n f2 =~ y4 + y5 + y6\n f2 ~ f1\n",
                 "level: 2\n b1 =~ y1 + y2 + y3\n b2 =~ y4 + y5 + y6\n",
                 " y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3\n y4 ~~ 0*y4\n y5 ~~ 0*y5\n y6 ~~ 0*y6"))
names_fm <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl",
              "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "rmsea.pvalue", "srmr", "srmr_within", "srmr_between")
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")), R = R.version.string)
for (name in names(models)) {
  fit <- sem(models[[name]], data = d, cluster = "cluster", missing = "ml")
  h1 <- lavInspect(fit, "h1")
  implied <- lavInspect(fit, "implied")
  out[[name]] <- list(call = "fitMeasures(sem(model, data = d, cluster = \"cluster\", missing = \"ml\"))",
                      model = models[[name]], loglik = as.numeric(logLik(fit)),
                      fit = as.list(fitMeasures(fit)[names_fm]),
                      h1_within_cov = unname(h1$within$cov), h1_between_cov = unname(h1$cluster$cov),
                      h1_between_mean = unname(h1$cluster$mean), h1_within_mean = unname(h1$within$mean),
                      implied_within_cov = unname(implied$within$cov),
                      implied_between_cov = unname(implied$cluster$cov))
}
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../multilevel_fit_measures_missing.json")
