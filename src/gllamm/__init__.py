"""gllamm: generalized linear latent and mixed models by maximum likelihood, in JAX.

    import gllamm
    pisa = gllamm.datasets.load("pisa_usa_2000")
    res = gllamm.fit("pass_read ~ mn_ses + female + ses + (1 | id_school)", pisa, family="binomial", nip=12)
    print(res.summary())
"""

from .runtime.startup import freeze_at_exit, narrow_rocm_plugin_scan, quiet_imports

with quiet_imports():  # (the collector would rescan the imported stack; see runtime/startup.py)
    with narrow_rocm_plugin_scan():
        from .runtime import jax_setup  # noqa: F401  (float64 and the persistent compilation cache)
    from .runtime.compiled_cache import preload_profile

    preload_profile()  # this command line's programs load while the rest is imported
    from . import datasets, results
    from ._fit import fit
    from .design import Design, build_design
    from .errors import ComputationWarning, ConvergenceWarning, DataWarning, GllammError, QuadratureWarning
    from .families import Family, make_family
    from .integrate import Integration
    from .model import Model, build_model
    from .objective_programs import make_objective
    from .optimize import maximize
    from .parallel import initialize_distributed, read_clusters
    from .results import FitResult
    from .results.comparison import anova, compare
    from .results.inference import lr_test
    from .loading import load
    from .spec import LevelSpec, ModelSpec, ParameterTable
    from .syntax import FormulaSpec, parse_formula

freeze_at_exit()

from ._version import __version__  # noqa: E402

__all__ = [
    "ComputationWarning", "ConvergenceWarning", "DataWarning", "QuadratureWarning", "results", "Design", "Family", "FitResult", "FormulaSpec", "GllammError",
    "Integration", "LevelSpec", "Model", "build_model", "ModelSpec", "ParameterTable", "build_design", "datasets", "fit",
    "initialize_distributed", "read_clusters",
    "anova", "compare", "load", "lr_test", "make_family", "make_objective", "maximize", "parse_formula",
]
