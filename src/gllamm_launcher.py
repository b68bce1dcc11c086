"""The ``gllamm`` command's entry point: arguments are parsed before gllamm (and JAX) are imported, so that
``gllamm --help``, ``gllamm --version`` and argument errors answer at once; the commands themselves are in
``gllamm.cli``."""

from __future__ import annotations

import argparse
import sys


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gllamm")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The command line's arguments (handlers are named, not imported: see ``gllamm.cli.HANDLERS``)."""
    parser = argparse.ArgumentParser(prog="gllamm", description="Generalized linear latent and mixed models.")
    parser.add_argument("--version", action="version", version=f"gllamm {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("fit", help="fit a model and print its summary")
    p.add_argument("model", help='lme4-style formula, e.g. "y ~ x + (1 | school)", or model syntax "f =~ y1 + y2 + y3"')
    p.add_argument("data", help="CSV, Stata .dta or parquet file (or a bundled dataset name)")
    p.add_argument("--family", default="gaussian")
    p.add_argument("--link", default=None)
    p.add_argument("--method", default="adaptive", help="adaptive | laplace | ghq")
    p.add_argument("--nip", type=int, default=None, help="quadrature points per latent dimension")
    p.add_argument("--weights", default=None, help="column of level-1 weights")
    p.add_argument("--offset", default=None, help="offset column")
    p.add_argument("--trials", default=None, help="column of binomial denominators")
    p.add_argument("--cluster", default=None, help="cluster column for multilevel model syntax (level: 1 / level: 2); "
                   "with level: 3 blocks nested columns lowest first, comma-separated: class,school")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--verbose", action="store_true", help="print the iteration log")
    p.set_defaults(handler="fit")
    d = commands.add_parser("demo", help="fit the PISA random-intercept logit of the seed article's Table 1")
    d.add_argument("--figure", default="gllamm_figure1.png",
                   help="where to save Figure 1 (conditional and marginal curves); '' to skip")
    d.set_defaults(handler="demo")
    s = commands.add_parser("datasets", help="list the bundled datasets")
    s.set_defaults(handler="datasets")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gllamm`` command: parse, then run the command (importing gllamm only then)."""
    args = build_parser().parse_args(argv)
    from gllamm.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
