"""Command line: ``gllamm fit "<model>" data.csv --family binomial``, ``gllamm demo``, ``gllamm datasets``."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path


def read_data(path: str):
    """Read CSV (the delimiter sniffed: ',', ';', tab or '|'), Stata .dta or parquet; a bundled dataset name also
    works. Unreadable files are a GllammError saying what is wrong with them."""
    import pandas as pd

    from . import datasets
    from .errors import GllammError

    file = Path(path)
    if not file.exists():
        if path in datasets.names():
            return datasets.load(path)
        raise GllammError(f"No file '{path}' (and no bundled dataset of that name; see 'gllamm datasets').")
    if file.is_dir():
        raise GllammError(f"'{path}' is a folder; give a data file (.csv, .dta or .parquet).")
    if file.stat().st_size == 0:
        raise GllammError(f"The file '{path}' is empty.")
    suffix = file.suffix.lower()
    try:
        if suffix == ".dta":
            return pd.read_stata(file)
        if suffix in (".parquet", ".pq"):
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise GllammError(f"Reading the parquet file '{path}' needs pyarrow: pip install \"gllamm[parquet]\" "
                                  "(or save the data as CSV).") from None
            return pd.read_parquet(file)
        if suffix in (".csv", ".txt", ".tsv", ".gz"):
            return _read_text_table(file, path)
    except GllammError:
        raise
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as error:
        raise GllammError(f"Cannot read '{path}' as a {suffix.lstrip('.') or 'data'} file: {error}") from None
    raise GllammError(f"Cannot read '{path}': use a .csv, .dta or .parquet file.")


def _read_text_table(file: Path, path: str):
    """A delimited text file, its delimiter sniffed from the first lines; binary content is refused."""
    import csv
    import gzip

    import pandas as pd

    from .errors import GllammError

    opener = gzip.open if file.suffix.lower() == ".gz" else open
    with opener(file, "rb") as handle:
        head = handle.read(65536)
    if b"\x00" in head:
        raise GllammError(f"'{path}' is not a text file (it holds binary data); give a CSV, Stata .dta or parquet "
                          "file.")
    text = head.decode("utf-8", errors="replace")
    if not text.strip():
        raise GllammError(f"The file '{path}' has no data (only blank lines).")
    lines = "\n".join(text.splitlines()[:20])
    try:
        delimiter = csv.Sniffer().sniff(lines, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    frame = pd.read_csv(file, sep=delimiter)
    if frame.shape[1] == 1 and len(frame):
        raise GllammError(f"'{path}' was read as a single column '{frame.columns[0]}': its delimiter is not one of "
                          "',', ';', tab or '|'. Save it as a comma-separated file.")
    return frame


def _fit_command(args) -> int:
    from . import fit

    data = read_data(args.data)
    options = dict(family=args.family, link=args.link, method=args.method, nip=args.nip,
                   weights=args.weights, offset=args.offset, trials=args.trials, verbose=args.verbose and not args.json)
    if args.cluster is not None:
        clusters = [c.strip() for c in args.cluster.split(",")]  # nested cluster columns, lowest first
        options["cluster"] = clusters[0] if len(clusters) == 1 else clusters
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(args.model, data, **options)
    if args.json:
        out = result.to_dict()
        out["warnings"] = [str(w.message) for w in caught]
        print(json.dumps(out, indent=2))
    else:
        for w in caught:
            print(f"Warning: {w.message}", file=sys.stderr)
        print(result.summary())
    return 0


def _demo_command(args) -> int:
    from .demo import run_demo

    run_demo(figure=args.figure)
    return 0


def _datasets_command(args) -> int:
    from . import datasets

    for name in datasets.names():
        print(f"{name:15s} {datasets.describe(name)}")
    return 0


HANDLERS = {"fit": _fit_command, "demo": _demo_command, "datasets": _datasets_command}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the command line (``gllamm_launcher.main`` parses before importing gllamm)."""
    from gllamm_launcher import build_parser

    return run(build_parser().parse_args(argv))


def run(args) -> int:
    """Run a parsed command; errors are one line on standard error (exit 2; 3 for an internal error)."""
    from .errors import GllammError

    try:
        return HANDLERS[args.handler](args)
    except GllammError as exc:
        print(f"gllamm: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"gllamm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gllamm: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # no traceback for a command-line user: what happened, and where to report it
        print(f"gllamm: internal error ({type(exc).__name__}: {exc}). This is a bug in gllamm; please report it "
              "with the command you ran. Set GLLAMM_TRACEBACK=1 to see the traceback.", file=sys.stderr)
        if os.environ.get("GLLAMM_TRACEBACK"):
            raise
        return 3

