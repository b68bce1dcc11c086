# Responses without error (a residual variance fixed at exactly 0) on the Holzinger-Swineford data:
# (1) a CFA whose first indicator is error-free; (2) a regression with a missing covariate, fitted by full
# information ML (lavaan's fixed.x = FALSE: the covariate is modelled), which gllamm writes as a latent variable
# measured by the covariate without error (X =~ 1*x4 + x7; x4 ~~ 0*x4).
# Run from this folder: Rscript exact_indicators.R  (writes ../exact_indicators.json). R 4.2, lavaan 0.6-14 (Debian).
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
hs <- read.csv("../../../src/gllamm/datasets/data/holzinger.csv")
cfa_model <- "visual =~ x1 + x2 + x3
x1 ~~ 0*x1"
cfa_fit <- cfa(cfa_model, data = hs)
missing <- hs
missing$x4[missing$id %% 3 == 0] <- NA  # a third of the covariate missing, by a rule
reg_fit <- sem("x7 ~ x4", data = missing, missing = "ml", fixed.x = FALSE)
rows <- function(fit) {
  pe <- parameterEstimates(fit)
  lapply(seq_len(nrow(pe)), function(i) as.list(pe[i, c("lhs", "op", "rhs", "est", "se")]))
}
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")),
            cfa = list(call = "cfa(cfa_model, data = hs)", model = cfa_model,
                       loglik = as.numeric(logLik(cfa_fit)), estimates = rows(cfa_fit),
                       fit_measures = as.list(fitMeasures(cfa_fit, c("chisq", "df", "cfi", "rmsea", "srmr")))),
            missing_covariate = list(call = "sem('x7 ~ x4', data = missing, missing = 'ml', fixed.x = FALSE)",
                                     missing_rule = "x4 missing where id %% 3 == 0",
                                     loglik = as.numeric(logLik(reg_fit)), estimates = rows(reg_fit)))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../exact_indicators.json")
