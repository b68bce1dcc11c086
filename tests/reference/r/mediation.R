# Defined parameters (indirect and total effects) of a latent mediation model on the Holzinger-Swineford data.
# Run from this folder: Rscript mediation.R  (writes ../holzinger_mediation.json). R 4.2, lavaan 0.6-14 (Debian).
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
hs <- read.csv("../../../src/gllamm/datasets/data/holzinger.csv")
model <- "visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7 + x8 + x9
textual ~ a*visual
speed ~ b*textual + c*visual
indirect := a*b
total := c + a*b"
fit <- sem(model, data = hs)
pe <- parameterEstimates(fit)
defined <- pe[pe$op == ":=", c("lhs", "est", "se")]
paths <- pe[pe$op == "~", c("lhs", "rhs", "label", "est", "se")]
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")),
            call = "sem(model, data = hs)  # the model above", loglik = as.numeric(logLik(fit)),
            defined = lapply(seq_len(nrow(defined)), function(i) as.list(defined[i, ])),
            paths = lapply(seq_len(nrow(paths)), function(i) as.list(paths[i, ])))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../holzinger_mediation.json")
