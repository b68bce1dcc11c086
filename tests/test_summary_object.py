"""summary() returns the text (a str, so print() and `in` work as before) with notebook HTML and LaTeX/Markdown
tables of the same numbers as result.table()."""

import pytest

import gllamm


@pytest.fixture(scope="module")
def sleepstudy():
    return gllamm.fit("reaction ~ days + (1 + days | subject)", gllamm.datasets.load("sleepstudy"))


def test_summary_is_text_with_renderings(sleepstudy):
    summary = sleepstudy.summary()
    assert isinstance(summary, str) and "Log likelihood = -875.9697" in summary
    assert repr(summary) == str(summary)
    html = summary._repr_html_()
    assert "<table" in html and "var((Intercept)|subject)" in html and "-875.9697" in html
    estimate = f"{sleepstudy.params['days']:.4f}"
    assert estimate in summary.to_latex() and "\\begin{tabular}" in summary.to_latex()
    markdown = summary.to_markdown()
    assert estimate in markdown and "var((Intercept)\\|subject)" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| var((Intercept)"))
    assert row.count(" | ") == 6  # seven columns: the escaped '|' does not split the row
    assert list(summary.tables["Parameters"].index) == list(sleepstudy.params.index)
