"""Each runnable example in examples/ runs (on its bundled data) and produces its output."""

import runpy
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_irt_2pl_example(tmp_path, monkeypatch, capsys):
    output = tmp_path / "icc.png"
    monkeypatch.setattr(sys, "argv", ["irt_2pl.py", str(output)])
    runpy.run_path(str(EXAMPLES / "irt_2pl.py"), run_name="__main__")
    assert output.exists() and output.stat().st_size > 5_000
    assert "theta=~Q2" in capsys.readouterr().out


def test_mimic_dif_example_recovers_the_direct_effect():
    example = runpy.run_path(str(EXAMPLES / "mimic_dif.py"))
    result = example["main"]()
    assert result.converged
    for name, value in example["TRUTH"].items():
        assert abs(result.params[name] - value) < 4 * result.se[name], name
