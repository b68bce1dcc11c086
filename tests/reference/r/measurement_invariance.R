# Measurement invariance of the Holzinger-Swineford CFA across schools: configural, metric (equal loadings),
# scalar (equal loadings and intercepts; latent means free in the second group) and strict (+ residuals).
# Run from this folder: Rscript measurement_invariance.R  (writes ../measurement_invariance.json). R 4.2, lavaan 0.6-14.
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
hs <- read.csv("../../../src/gllamm/datasets/data/holzinger.csv")
model <- "visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7 + x8 + x9"
fits <- list(configural = cfa(model, data = hs, group = "school"),
             metric = cfa(model, data = hs, group = "school", group.equal = "loadings"),
             scalar = cfa(model, data = hs, group = "school", group.equal = c("loadings", "intercepts")),
             strict = cfa(model, data = hs, group = "school", group.equal = c("loadings", "intercepts", "residuals")))
summary_of <- function(fit) {
  pe <- parameterEstimates(fit)
  means <- pe[pe$op == "~1" & pe$lhs %in% c("visual", "textual", "speed") & pe$group == 2, c("lhs", "est", "se")]
  list(loglik = as.numeric(logLik(fit)), npar = as.numeric(fitMeasures(fit, "npar")),
       chisq = as.numeric(fitMeasures(fit, "chisq")), df = as.numeric(fitMeasures(fit, "df")),
       cfi = as.numeric(fitMeasures(fit, "cfi")), rmsea = as.numeric(fitMeasures(fit, "rmsea")),
       srmr = as.numeric(fitMeasures(fit, "srmr")),
       latent_means_group2 = lapply(seq_len(nrow(means)), function(i) as.list(means[i, ])))
}
comparison <- anova(fits$configural, fits$metric, fits$scalar)
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")),
            call = "cfa(model, data = hs, group = 'school', group.equal = ...)", model = model,
            groups = unique(hs$school), fits = lapply(fits, summary_of),
            chisq_diff = as.list(comparison[["Chisq diff"]]), df_diff = as.list(comparison[["Df diff"]]))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../measurement_invariance.json")
