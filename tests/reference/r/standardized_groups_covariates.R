# Standardised solution and R-squared of a multiple-group MIMIC model with a direct effect (lavaan's fixed.x = TRUE:
# each group's covariates standardised by that group's sample covariance): the Holzinger-Swineford CFA by school,
# both factors regressed on age and sex, and a direct effect of age on x4.
# Run: Rscript tests/reference/r/standardized_groups_covariates.R > tests/reference/standardized_groups_covariates.json
library(lavaan)
library(jsonlite)
model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual + textual ~ ageyr + sex\n x4 ~ ageyr"
fit <- sem(model, HolzingerSwineford1939, group = "school")
std <- standardizedSolution(fit)[, c("lhs", "op", "rhs", "group", "est.std", "se")]
lv <- standardizedSolution(fit, type = "std.lv")[, c("lhs", "op", "rhs", "group", "est.std")]
names(lv)[5] <- "std.lv"
std <- merge(std, lv, by = c("lhs", "op", "rhs", "group"))
r2 <- lapply(inspect(fit, "r2"), as.list)
cat(toJSON(list(engine = "lavaan::sem", engine_version = as.character(packageVersion("lavaan")), model = model,
                call = "sem(model, HolzingerSwineford1939, group = \"school\")", loglik = as.numeric(logLik(fit)),
                groups = lavInspect(fit, "group.label"), standardized = std, r2 = r2),
           digits = NA, auto_unbox = TRUE, pretty = TRUE))
