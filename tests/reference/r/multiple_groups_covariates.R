# Fit measures of a multiple-group model with a covariate (lavaan's fixed.x = TRUE default): the Holzinger-Swineford
# CFA by school with the visual factor regressed on age.
# Run: Rscript tests/reference/r/multiple_groups_covariates.R > tests/reference/multiple_groups_covariates.json
library(lavaan)
library(jsonlite)
model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual ~ ageyr"
fit <- sem(model, HolzingerSwineford1939, group = "school")
names <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl",
           "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
           "srmr")
cat(toJSON(list(engine = "lavaan::sem", engine_version = as.character(packageVersion("lavaan")), model = model,
                call = "sem(model, HolzingerSwineford1939, group = \"school\")", fit = as.list(fitMeasures(fit, names))),
           digits = NA, auto_unbox = TRUE, pretty = TRUE))
