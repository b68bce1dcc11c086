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
