# Non-proportional odds reference: clm with thresholds depending on contact (R ordinal package).
# Run: Rscript tests/reference/r/wine_nominal.R  (writes tests/reference/wine_nominal.json)
library(ordinal); library(jsonlite)
wine <- read.csv("src/gllamm/datasets/data/wine.csv")
wine$rating <- factor(wine$rating, ordered = TRUE)
f <- clm(rating ~ temp_warm, nominal = ~ contact_yes, data = wine, link = "logit")
out <- list(call = "clm(rating ~ temp_warm, nominal = ~ contact_yes, data = wine, link = 'logit')",
            loglik = as.numeric(logLik(f)), coef = as.list(coef(f)), se = as.list(sqrt(diag(vcov(f)))))
write_json(out, "tests/reference/wine_nominal.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
print(summary(f))
