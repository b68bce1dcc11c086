# Heteroscedastic Gaussian reference (residual variance depending on a covariate) from glmmTMB.
# Run from this folder:  Rscript heteroscedastic_glmmtmb.R   (writes ../exam_heteroscedastic.json)
# glmmTMB's dispformula models log(sigma^2) for the Gaussian family: alpha_TMB = 2 * alpha (log SD).
library(glmmTMB)
library(jsonlite)
exam <- read.csv("../../../src/gllamm/datasets/data/exam.csv")
call <- "glmmTMB(normexam ~ standlrt + (1 | school), dispformula = ~ girl, data = exam, REML = FALSE)"
fit <- eval(parse(text = call))
se <- sqrt(diag(vcov(fit, full = TRUE)))
res <- list(engine = "glmmTMB", engine_version = as.character(packageVersion("glmmTMB")), call = call,
            loglik = as.numeric(logLik(fit)), nobs = nobs(fit),
            fixef = as.list(fixef(fit)$cond), fixef_se = as.list(sqrt(diag(vcov(fit)$cond))),
            disp = as.list(fixef(fit)$disp), disp_se = as.list(sqrt(diag(vcov(fit)$disp))),
            var_school = as.numeric(VarCorr(fit)$cond$school))
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), "../exam_heteroscedastic.json")
