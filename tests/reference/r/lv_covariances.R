# Equal latent covariance matrices across groups (lavaan group.equal with "lv.variances" and "lv.covariances"),
# Holzinger-Swineford by school: loadings + intercepts + residuals + the latent variances and covariances, and the
# latent covariances and variances alone.
# Run: Rscript tests/reference/r/lv_covariances.R > tests/reference/lv_covariances.json
library(lavaan)
library(jsonlite)
model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
fits <- list(
  strict_lv = cfa(model, HolzingerSwineford1939, group = "school",
                  group.equal = c("loadings", "intercepts", "residuals", "lv.variances", "lv.covariances")),
  lv_only = cfa(model, HolzingerSwineford1939, group = "school", group.equal = c("lv.variances", "lv.covariances"))
)
out <- list(engine = "lavaan::cfa", engine_version = as.character(packageVersion("lavaan")), model = model,
            group = "school", group_order = unique(as.character(HolzingerSwineford1939$school)))
for (name in names(fits)) {
  f <- fits[[name]]
  pe <- parameterEstimates(f)
  lv <- pe[pe$op == "~~" & pe$lhs %in% c("visual", "textual", "speed"), c("lhs", "op", "rhs", "group", "est", "se")]
  out[[name]] <- list(group_equal = f@Options$group.equal, loglik = as.numeric(logLik(f)),
                      npar = as.integer(fitMeasures(f, "npar")), chisq = as.numeric(fitMeasures(f, "chisq")),
                      df = as.numeric(fitMeasures(f, "df")), latent_covariances = lv)
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
