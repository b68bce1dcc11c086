# Modification indices of multiple-group CFAs (the Holzinger-Swineford 3-factor model by school): configural and
# scalar (group.equal = c("loadings", "intercepts")). Every candidate lavaan lists, with its group.
# Run from this folder: Rscript mg_modification_indices.R (writes ../mg_modification_indices.json). R 4.2, lavaan 0.6-14.
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
hs <- read.csv("../../../src/gllamm/datasets/data/holzinger.csv")
model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
rows <- function(fit) {
  mi <- modindices(fit)
  lapply(seq_len(nrow(mi)), function(i) as.list(mi[i, c("lhs", "op", "rhs", "group", "mi", "epc", "sepc.all")]))
}
configural <- cfa(model, data = hs, group = "school")
scalar <- cfa(model, data = hs, group = "school", group.equal = c("loadings", "intercepts"))
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")), model = model,
            configural = list(call = "modindices(cfa(model, data = hs, group = \"school\"))",
                              loglik = as.numeric(logLik(configural)), modindices = rows(configural)),
            scalar = list(call = "modindices(cfa(model, data = hs, group = \"school\", group.equal = c(\"loadings\", \"intercepts\")))",
                          loglik = as.numeric(logLik(scalar)), modindices = rows(scalar)))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../mg_modification_indices.json")
