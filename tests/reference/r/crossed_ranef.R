# Conditional modes and SDs of crossed effects (lme4 ranef(condVar=TRUE)), penicillin ML fit.
# Run from tests/reference:  Rscript r/crossed_ranef.R  -> penicillin_ranef.json
suppressPackageStartupMessages({library(jsonlite); library(lme4)})
pen <- read.csv("../../src/gllamm/datasets/data/penicillin.csv")
fit <- lmer(diameter ~ 1 + (1|plate) + (1|sample), pen, REML=FALSE)
re <- ranef(fit, condVar=TRUE)
part <- function(g) list(labels=rownames(re[[g]]), mode=re[[g]][, 1], sd=sqrt(as.numeric(attr(re[[g]], "postVar"))))
writeLines(toJSON(list(call="ranef(lmer(diameter ~ 1 + (1|plate) + (1|sample), REML=FALSE), condVar=TRUE)",
                       loglik=as.numeric(logLik(fit)), plate=part("plate"), sample=part("sample")),
                  auto_unbox=TRUE, digits=NA, pretty=TRUE), "penicillin_ranef.json")
