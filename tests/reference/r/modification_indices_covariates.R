# Modification indices of models with observed covariates (lavaan's fixed.x = TRUE default): the MIMIC model of
# the Holzinger-Swineford data (factors on age and sex) and a CFA with a direct effect of sex on x1.
# Run: Rscript tests/reference/r/modification_indices_covariates.R > tests/reference/modification_indices_covariates.json
library(lavaan)
library(jsonlite)
models <- list(
  mimic = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual + textual ~ ageyr + sex",
  direct_only = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n x1 ~ sex"
)
out <- lapply(models, function(model) {
  fit <- sem(model, HolzingerSwineford1939)
  mi <- modindices(fit, sort. = TRUE)[, c("lhs", "op", "rhs", "mi", "epc", "sepc.all")]
  list(model = model, call = "modindices(sem(model, HolzingerSwineford1939), sort. = TRUE)", mi = mi)
})
cat(toJSON(list(engine = "lavaan::modindices", engine_version = as.character(packageVersion("lavaan")), models = out),
           digits = NA, auto_unbox = TRUE, pretty = TRUE))
