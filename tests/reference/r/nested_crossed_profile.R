# Profile-likelihood intervals (lme4's confint(method = "profile")) of a crossed LMM (Penicillin: plate x sample)
# and of a nested LMM with three levels of random intercepts (the four-level test data: classes in schools in
# districts). Run from this folder: Rscript nested_crossed_profile.R (writes ../nested_crossed_profile.json).
# R 4.2, lme4 1.1-31. .sig01, .sig02, ... are the SDs in the order lme4 lists the random terms; .sigma the residual SD.
suppressPackageStartupMessages({library(jsonlite); library(lme4)})
d <- read.csv("../four_level.csv")
rows <- function(ci) lapply(seq_len(nrow(ci)), function(i) list(name = rownames(ci)[i], lower = ci[i, 1], upper = ci[i, 2]))
pen <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = FALSE)
nested <- lmer(g ~ x + (1 | cls) + (1 | school) + (1 | district), data = d, REML = FALSE,
               control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
out <- list(engine = "lme4", engine_version = as.character(packageVersion("lme4")),
            penicillin = list(call = "confint(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = FALSE), method = 'profile')",
                              terms = names(getME(pen, "cnms")), loglik = as.numeric(logLik(pen)),
                              ci = rows(confint(pen, method = "profile"))),
            nested = list(call = "confint(lmer(g ~ x + (1 | cls) + (1 | school) + (1 | district), d, REML = FALSE), method = 'profile')",
                          terms = names(getME(nested, "cnms")), loglik = as.numeric(logLik(nested)),
                          ci = rows(confint(nested, method = "profile"))))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../nested_crossed_profile.json")
