"""Measurement invariance across groups: the Holzinger-Swineford CFA in the two schools.

    configural: the same factor structure in both schools, every parameter free per school;
    metric:     loadings equal across schools (group_equal=["loadings"]);
    scalar:     loadings and intercepts equal; the factor means are then free in the second school;
    strict:     loadings, intercepts and residual variances equal.

Each step is tested against the one before with a likelihood-ratio (chi-square difference) test, as
lavaan's anova() does; the numbers equal lavaan's (tests/test_multiple_groups.py). Run:
python examples/measurement_invariance.py
"""

import gllamm

MODEL = """visual  =~ x1 + x2 + x3
           textual =~ x4 + x5 + x6
           speed   =~ x7 + x8 + x9"""
STEPS = {"configural": None, "metric": ["loadings"], "scalar": ["loadings", "intercepts"],
         "strict": ["loadings", "intercepts", "residuals"]}


def main():
    data = gllamm.datasets.load("holzinger")
    fits = {step: gllamm.fit(MODEL, data, group="school", group_equal=equal) for step, equal in STEPS.items()}
    print(f"{'model':12s} {'log L':>12s} {'parameters':>11s} {'chi2 diff':>10s} {'df':>4s} {'p':>8s}")
    previous = None
    for step, result in fits.items():
        line = f"{step:12s} {result.loglik:12.3f} {result.n_params:11d}"
        if previous is not None:
            test = gllamm.lr_test(result, previous)
            line += f" {test['statistic']:10.3f} {test['df']:4d} {test['p']:8.4f}"
        print(line)
        previous = result
    print("\nFactor means in the second school (scalar invariance; 0 in the first):")
    print(fits["scalar"].table().filter(like="~_mean", axis=0)[["estimate", "se", "p"]])
    return fits


if __name__ == "__main__":
    main()
