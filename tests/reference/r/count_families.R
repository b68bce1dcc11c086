# Reference fits for negative binomial (NB1) and zero-inflated counts, glmmTMB (Laplace), R 4.2 from Debian.
# Data: ../shared/data/salamanders.csv (glmmTMB::Salamanders; minedno = 1 where mined == "no").
# Run from tests/reference: Rscript r/count_families.R   (writes the JSON files beside this folder)
suppressPackageStartupMessages({library(jsonlite); library(glmmTMB)})
sal <- read.csv("../../../shared/data/salamanders.csv")
info <- function(fit, call) {
  cf <- summary(fit)$coefficients
  out <- list(engine=paste("glmmTMB", packageVersion("glmmTMB")), call=call, loglik=as.numeric(logLik(fit)),
              df=attr(logLik(fit), "df"), nobs=nobs(fit),
              fixef=as.list(setNames(cf$cond[,1], rownames(cf$cond))), fixef_se=as.list(setNames(cf$cond[,2], rownames(cf$cond))),
              var_site=VarCorr(fit)$cond$site[1,1], sigma=sigma(fit))
  if (!is.null(cf$zi)) { out$zi <- as.list(setNames(cf$zi[,1], rownames(cf$zi))); out$zi_se <- as.list(setNames(cf$zi[,2], rownames(cf$zi))) }
  out
}
save_ref <- function(name, x) write(toJSON(x, auto_unbox=TRUE, digits=NA, pretty=TRUE), paste0(name, ".json"))
fit <- glmmTMB(count ~ minedno + cover + (1|site), sal, family=nbinom1)
save_ref("salamanders_nb1", info(fit, "glmmTMB(count ~ minedno + cover + (1|site), family=nbinom1)  # sigma = alpha, Var = mu (1 + alpha)"))
fit <- glmmTMB(count ~ minedno + cover + (1|site), sal, ziformula=~minedno, family=poisson)
save_ref("salamanders_zip", info(fit, "glmmTMB(count ~ minedno + cover + (1|site), ziformula=~minedno, family=poisson)"))
fit <- glmmTMB(count ~ minedno + cover + (1|site), sal, ziformula=~minedno, family=nbinom2)
save_ref("salamanders_zinb2", info(fit, "glmmTMB(count ~ minedno + cover + (1|site), ziformula=~minedno, family=nbinom2)  # sigma = theta"))
