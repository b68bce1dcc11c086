# REML and crossed random effects references (lme4), R 4.2 from Debian.
# Run from tests/reference:  Rscript r/reml_and_crossed.R
# Writes exam_reml.json, four_level_reml.json, penicillin_reml.json, verbagg_crossed.json, and times of
# InstEval fits (instEval_times.json; the data are lme4::InstEval, not bundled).
suppressPackageStartupMessages({library(jsonlite); library(lme4)})
timeit <- function(f, reps=3) median(sapply(seq_len(reps), function(i) system.time(f())[["elapsed"]]))
summarise <- function(fit, call, secs=NA) {
  vc <- as.data.frame(VarCorr(fit))
  list(engine="lme4", engine_version=as.character(packageVersion("lme4")), call=call,
       loglik=as.numeric(logLik(fit)), reml_criterion=if (isREML(fit)) as.numeric(REMLcrit(fit)) else NULL,
       nobs=nobs(fit), fixef=as.list(fixef(fit)), fixef_se=as.list(sqrt(diag(as.matrix(vcov(fit))))),
       varcorr=lapply(seq_len(nrow(vc)), function(i) list(grp=vc$grp[i], var1=vc$var1[i], var2=vc$var2[i], vcov=vc$vcov[i])),
       r_seconds=secs)
}
save_ref <- function(name, x) writeLines(toJSON(x, auto_unbox=TRUE, digits=NA, pretty=TRUE, na="null"), paste0(name, ".json"))
ctrl <- lmerControl(optimizer="bobyqa", optCtrl=list(maxfun=1e5))
# exam (mlmRev::Exam, bundled as gllamm.datasets "exam"): unbalanced random slopes, REML
exam <- read.csv("../../src/gllamm/datasets/data/exam.csv")
f <- function() lmer(normexam ~ standlrt + girl + (1 + standlrt | school), exam, REML=TRUE, control=ctrl)
save_ref("exam_reml", summarise(f(), "lmer(normexam ~ standlrt + girl + (1 + standlrt | school), REML=TRUE)", timeit(f)))
# three nested levels above pupils (four_level.csv of tests/test_four_level.py), REML
d <- read.csv("four_level.csv")
f <- function() lmer(g ~ x + (1 | cls) + (1 | school) + (1 | district), d, REML=TRUE, control=ctrl)
save_ref("four_level_reml", summarise(f(), "lmer(g ~ x + (1 | cls) + (1 | school) + (1 | district), REML=TRUE)", timeit(f)))
# penicillin: crossed plate x sample, REML
pen <- read.csv("../../src/gllamm/datasets/data/penicillin.csv")
f <- function() lmer(diameter ~ 1 + (1|plate) + (1|sample), pen, REML=TRUE, control=ctrl)
save_ref("penicillin_reml", summarise(f(), "lmer(diameter ~ 1 + (1|plate) + (1|sample), REML=TRUE)", timeit(f)))
# VerbAgg: crossed persons x items, binary, Laplace (glmer's documented example model)
va <- read.csv("../../src/gllamm/datasets/data/verbagg.csv")
f <- function() glmer(r2 ~ anger + male + btype_scold + btype_shout + situ_self + mode_do + (1|id) + (1|item), va,
                      family=binomial, control=glmerControl(optimizer="bobyqa", optCtrl=list(maxfun=1e5)))
save_ref("verbagg_crossed", summarise(f(), "glmer(r2 ~ anger + male + btype_scold + btype_shout + situ_self + mode_do + (1|id) + (1|item), binomial, nAGQ=1)", timeit(f, 1)))
# InstEval (73,421 ratings): crossed students x lecturers, lecturers' departments
f <- function() lmer(y ~ service + (1|s) + (1|d) + (1|dept:service), InstEval, REML=FALSE, control=ctrl)
fit <- f(); secs <- timeit(f, 1)
save_ref("instEval_ml", summarise(fit, "lmer(y ~ service + (1|s) + (1|d) + (1|dept:service), InstEval, REML=FALSE)", secs))
write.csv(InstEval[, c("s", "d", "dept", "service", "y")], "/tmp/instEval.csv", row.names=FALSE)
