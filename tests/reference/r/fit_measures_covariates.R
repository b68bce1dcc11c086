# Fit measures of a model with observed covariates (lavaan's fixed.x = TRUE default): a MIMIC model of the
# Holzinger-Swineford data. Run: Rscript tests/reference/r/fit_measures_covariates.R > tests/reference/fit_measures_covariates.json
library(lavaan)
library(jsonlite)
model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual + textual ~ ageyr + sex"
fit <- sem(model, HolzingerSwineford1939)
names <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi", "tli", "logl",
           "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
           "srmr")
std <- standardizedSolution(fit)[, c("lhs", "op", "rhs", "est.std", "se")]
unstd <- parameterEstimates(fit)[, c("lhs", "op", "rhs", "est")]
std <- merge(std, unstd, by = c("lhs", "op", "rhs"))
lv <- standardizedSolution(fit, type = "std.lv")[, c("lhs", "op", "rhs", "est.std")]
names(lv)[4] <- "std.lv"
std <- merge(std, lv, by = c("lhs", "op", "rhs"))
cat(toJSON(list(engine = "lavaan::sem", engine_version = as.character(packageVersion("lavaan")), model = model,
                call = "sem(model, HolzingerSwineford1939)", fit = as.list(fitMeasures(fit, names)),
                standardized = std, r2 = as.list(inspect(fit, "r2"))),
           digits = NA, auto_unbox = TRUE, pretty = TRUE))
