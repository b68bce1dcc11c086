# Fit measures, standardised solution and R-squared of models with direct effects of observed covariates on indicators (lavaan's fixed.x = TRUE default):
# a MIMIC model of the Holzinger-Swineford data with a direct effect of age on x4 (DIF), and a CFA whose only
# covariate is a direct effect on x1. Run: Rscript tests/reference/r/fit_measures_direct_effects.R > tests/reference/fit_measures_direct_effects.json
library(lavaan)
library(jsonlite)
names <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi", "tli", "logl",
           "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
           "srmr")
models <- list(
  mimic = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual + textual ~ ageyr + sex\n x4 ~ ageyr",
  direct_only = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n x1 ~ sex"
)
out <- lapply(models, function(model) {
  fit <- sem(model, HolzingerSwineford1939)
  est <- parameterEstimates(fit)[, c("lhs", "op", "rhs", "est", "se")]
  std <- standardizedSolution(fit)[, c("lhs", "op", "rhs", "est.std", "se")]
  lv <- standardizedSolution(fit, type = "std.lv")[, c("lhs", "op", "rhs", "est.std")]
  names(lv)[4] <- "std.lv"
  std <- merge(std, lv, by = c("lhs", "op", "rhs"))
  list(model = model, call = "sem(model, HolzingerSwineford1939)", fit = as.list(fitMeasures(fit, names)),
       estimates = est, standardized = std, r2 = as.list(inspect(fit, "r2")))
})
cat(toJSON(list(engine = "lavaan::sem", engine_version = as.character(packageVersion("lavaan")), models = out),
           digits = NA, auto_unbox = TRUE, pretty = TRUE))
