# Group-specific modifiers in multiple-group CFAs: c(a, a)*x2 (equal across the schools) and c(0.5, NA)*x2 (fixed
# in the first school, free in the second). Run from this folder: Rscript group_labels.R (writes
# ../group_labels.json). R 4.2, lavaan 0.6-14.
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
hs <- read.csv("../../../src/gllamm/datasets/data/holzinger.csv")
models <- list(equal = "visual =~ x1 + c(a, a)*x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9",
               fixed = "visual =~ x1 + c(0.5, NA)*x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9")
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")))
for (name in names(models)) {
  fit <- cfa(models[[name]], data = hs, group = "school", meanstructure = TRUE)
  pe <- parameterEstimates(fit)
  x2 <- pe[pe$op == "=~" & pe$rhs == "x2", c("group", "est", "se")]
  out[[name]] <- list(call = "cfa(model, data = hs, group = \"school\", meanstructure = TRUE)", model = models[[name]],
                      loglik = as.numeric(logLik(fit)), npar = fitMeasures(fit)[["npar"]],
                      x2_loading = lapply(seq_len(nrow(x2)), function(i) as.list(x2[i, ])))
}
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../group_labels.json")
