"""The command line: fit with --json, errors, and the demo."""

import json
import subprocess
import sys

from gllamm.cli import main


def test_fit_json(capsys, tmp_path):
    path = tmp_path / "sleep.csv"
    import gllamm

    gllamm.datasets.load("sleepstudy").to_csv(path, index=False)
    assert main(["fit", "reaction ~ days + (1 + days | subject)", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # lme4: lmer(reaction ~ days + (1 + days | subject), REML = FALSE) logLik -875.969672244495
    assert abs(out["loglik"] - (-875.969672244495)) < 1e-3
    assert out["converged"] and out["n_groups"] == {"subject": 18}


def test_fit_errors_are_readable(capsys):
    assert main(["fit", "y ~ x + (1 | g)", "no_such_file.csv"]) == 2
    assert "No file 'no_such_file.csv'" in capsys.readouterr().err


def test_demo_runs_as_module():
    run = subprocess.run([sys.executable, "-m", "gllamm", "demo"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "Table 1" in run.stdout and "mn_ses" in run.stdout
    # Table 1 of the seed article: mn_ses 1.38 (0.18), OR 4.0
    assert "1.38 ( 0.18)    4.0" in run.stdout


def _sleep_frame():
    import gllamm

    return gllamm.datasets.load("sleepstudy")


def test_a_semicolon_delimited_csv_is_read(capsys, tmp_path):
    path = tmp_path / "sleep_semicolon.csv"
    _sleep_frame().to_csv(path, index=False, sep=";")
    assert main(["fit", "reaction ~ days + (1 | subject)", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["converged"] and out["n_groups"] == {"subject": 18}


def test_files_that_are_not_data_give_one_line_errors(capsys, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    single = tmp_path / "single.csv"
    single.write_text("a b c\n1 2 3\n4 5 6\n")
    for path, message in ((empty, "The file '.*empty.csv' is empty"),
                          (binary, "'.*binary.csv' is not a text file"),
                          (single, "was read as a single column 'a b c'"),
                          (tmp_path, "is a folder")):
        assert main(["fit", "y ~ x", str(path)]) == 2
        err = capsys.readouterr().err
        import re

        assert re.search(message, err) and "Traceback" not in err, err


def test_parquet_without_pyarrow_names_the_extra(capsys, tmp_path, monkeypatch):
    import builtins

    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow":
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    assert main(["fit", "y ~ x", str(path)]) == 2
    assert 'pip install "gllamm[parquet]"' in capsys.readouterr().err


def test_an_internal_error_shows_no_traceback(capsys, monkeypatch):
    import gllamm

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(gllamm, "fit", broken)
    assert main(["fit", "reaction ~ days", "sleepstudy"]) == 3
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError: division by zero)" in err and "Traceback" not in err


def test_help_version_and_argument_errors_answer_without_importing_jax():
    code = ("import sys, gllamm_launcher\n"
            "for argv in (['--help'], ['--version'], ['fit'], ['nonsense']):\n"
            "    try:\n"
            "        gllamm_launcher.main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "assert 'jax' not in sys.modules and 'gllamm' not in sys.modules, sorted(sys.modules)\n"
            "print('light')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("light"), run.stderr
    assert "usage: gllamm" in run.stdout and "gllamm 0.1.0" in run.stdout
    assert "the following arguments are required: model, data" in run.stderr
