# Modification indices (score tests, expected information; lavaan's default) of the Holzinger-Swineford CFA and of
# an SEM with paths among the factors, every candidate lavaan lists.
# Run from this folder: Rscript modification_indices.R  (writes ../modification_indices.json). R 4.2, lavaan 0.6-14.
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
hs <- read.csv("../../../src/gllamm/datasets/data/holzinger.csv")
cfa_model <- "visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7 + x8 + x9"
sem_model <- "visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7 + x8 + x9
speed ~ visual + textual"
rows <- function(fit) {
  mi <- modindices(fit)
  lapply(seq_len(nrow(mi)), function(i) as.list(mi[i, c("lhs", "op", "rhs", "mi", "epc", "sepc.all")]))
}
cfa_fit <- cfa(cfa_model, data = hs)
sem_fit <- sem(sem_model, data = hs)
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")),
            cfa = list(call = "modindices(cfa(cfa_model, data = hs))", model = cfa_model, loglik = as.numeric(logLik(cfa_fit)),
                       modindices = rows(cfa_fit)),
            sem = list(call = "modindices(sem(sem_model, data = hs))", model = sem_model, loglik = as.numeric(logLik(sem_fit)),
                       modindices = rows(sem_fit)))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../modification_indices.json")
