# Standardised solution and R-squared of a two-level SEM (lavaan standardises each level by its own implied
# variances): the "paths" model of multilevel_fit_measures.R on the twolevel data.
# Run from this folder: Rscript standardized_two_level.R  (writes ../standardized_two_level.json)
suppressPackageStartupMessages({library(jsonlite); library(lavaan)})
d <- read.csv("../../../src/gllamm/datasets/data/twolevel.csv")
model <- paste0("level: 1\n f1 =~ y1 + y2 + y3\n f2 =~ y4 + y5 + y6\n f2 ~ f1\n",
                "level: 2\n b1 =~ y1 + y2 + y3\n b2 =~ y4 + y5 + y6\n",
                " y1 ~~ 0*y1\n y2 ~~ 0*y2\n y3 ~~ 0*y3\n y4 ~~ 0*y4\n y5 ~~ 0*y5\n y6 ~~ 0*y6")
fit <- sem(model, data = d, cluster = "cluster")
pt <- parTable(fit)
std <- standardizedSolution(fit)
lv <- standardizedSolution(fit, type = "std.lv")
std$level <- pt$level[match(paste(std$lhs, std$op, std$rhs, seq_len(nrow(std))),
                            paste(pt$lhs, pt$op, pt$rhs, seq_len(nrow(pt))))]
std$std.lv <- lv$est.std
out <- list(engine = "lavaan", engine_version = as.character(packageVersion("lavaan")), R = R.version.string,
            call = "standardizedSolution(sem(model, data = d, cluster = \"cluster\")); inspect(fit, \"r2\")",
            model = model, loglik = as.numeric(logLik(fit)),
            standardized = std[, c("lhs", "op", "rhs", "level", "est.std", "se", "std.lv")],
            r2 = lapply(inspect(fit, "r2"), as.list))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../standardized_two_level.json")
