# Two-level CFA in two groups of clusters (lavaan: cluster= and group= together), twolevel data, groups
# "a" (clusters 1-100) and "b" (clusters 101-200). Run: Rscript tests/reference/r/multilevel_groups.R > tests/reference/multilevel_groups.json
library(lavaan)
library(jsonlite)
data(Demo.twolevel)
Demo.twolevel$g <- ifelse(Demo.twolevel$cluster <= 100, "a", "b")
model <- "level: 1\n fw =~ y1 + y2 + y3\n level: 2\n fb =~ y1 + y2 + y3"
# (with the between residual variances fixed at 0, lavaan 0.6-14's grouped estimation fails: left free here)
# (lavaan 0.6-14 needs the model once per group block when group= and level blocks go together)
grouped <- paste0("group: a\n", model, "\ngroup: b\n", model)
# (lavaan 0.6-14 ignores group.equal with group blocks: equal loadings by labels instead)
labelled <- gsub("fw =~ y1 + y2 + y3", "fw =~ y1 + lw2*y2 + lw3*y3", gsub("fb =~ y1 + y2 + y3", "fb =~ y1 + lb2*y2 + lb3*y3", grouped, fixed = TRUE), fixed = TRUE)
fits <- list(configural = sem(grouped, Demo.twolevel, cluster = "cluster", group = "g"),
             loadings = sem(labelled, Demo.twolevel, cluster = "cluster", group = "g"))
out <- list(engine = "lavaan::sem", engine_version = as.character(packageVersion("lavaan")), model = model,
            group_order = unique(Demo.twolevel$g))
for (name in names(fits)) {
  f <- fits[[name]]
  pe <- parameterEstimates(f)
  out[[name]] <- list(group_equal = f@Options$group.equal, loglik = as.numeric(logLik(f)),
                      npar = as.integer(fitMeasures(f, "npar")),
                      estimates = pe[, c("lhs", "op", "rhs", "level", "group", "est", "se")])
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
