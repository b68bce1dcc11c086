# Binomial log/identity and Poisson identity links (lme4 1.1, R 4.2 from Debian).
# Run from tests/reference:  Rscript r/links.R   -> writes links.json
suppressPackageStartupMessages({library(jsonlite); library(lme4)})
cbpp <- read.csv("../../src/gllamm/datasets/data/cbpp.csv")
cbpp$period <- factor(cbpp$period)
sal <- read.csv("../../src/gllamm/datasets/data/salamanders.csv")
out <- list()
tight <- glm.control(epsilon=1e-14, maxit=200)  # glm stops at a relative deviance change of 1e-8 by default
one <- function(fit, call) {
  s <- summary(fit)
  list(call=call, loglik=as.numeric(logLik(fit)), coef=as.list(coef(s)[, 1]), se=as.list(coef(s)[, 2]),
       var=if (inherits(fit, "merMod")) as.data.frame(VarCorr(fit))$vcov else NULL)
}
out$cbpp_log_glm <- one(glm(cbind(incidence, size - incidence) ~ period, binomial(link="log"), cbpp, control=tight),
  "glm(cbind(incidence, size - incidence) ~ period, binomial(link='log'), cbpp)")
out$cbpp_log_glmer <- one(glmer(cbind(incidence, size - incidence) ~ period + (1|herd), cbpp, family=binomial(link="log"),
                                control=glmerControl(optimizer="bobyqa")),
  "glmer(cbind(incidence, size - incidence) ~ period + (1|herd), cbpp, binomial(link='log'), nAGQ=1)")
out$cbpp_identity_glm <- one(glm(cbind(incidence, size - incidence) ~ period, binomial(link="identity"), cbpp, control=tight),
  "glm(cbind(incidence, size - incidence) ~ period, binomial(link='identity'), cbpp)")
out$cbpp_identity_glmer20 <- tryCatch(one(glmer(cbind(incidence, size - incidence) ~ period + (1|herd), cbpp,
                                 family=binomial(link="identity"), nAGQ=20,
                                 start=list(fixef=c(0.2, -0.1, -0.1, -0.1), theta=0.1),
                                 control=glmerControl(optimizer="bobyqa")),
  "glmer(cbind(incidence, size - incidence) ~ period + (1|herd), cbpp, binomial(link='identity'), nAGQ=20)"),
  error=function(e) list(error=conditionMessage(e)))
out$sal_identity_glm <- one(glm(count ~ minedno + cover, poisson(link="identity"), sal, start=c(1, 1, 0), control=tight),
  "glm(count ~ minedno + cover, poisson(link='identity'), salamanders)")
out$sal_identity_glmer20 <- tryCatch(one(glmer(count ~ minedno + (1|site), sal, family=poisson(link="identity"), nAGQ=20,
                                     start=list(fixef=c(0.5, 1), theta=0.1), control=glmerControl(optimizer="bobyqa")),
  "glmer(count ~ minedno + (1|site), salamanders, poisson(link='identity'), nAGQ=20)"),
  error=function(e) list(error=conditionMessage(e)))
writeLines(toJSON(out, auto_unbox=TRUE, digits=NA, pretty=TRUE, na="null"), "links.json")
