"""The object FitResult.summary() returns: the text of the summary (it is a str, printed as before), which also
renders as HTML in notebooks and gives its tables as LaTeX or Markdown for papers."""

from __future__ import annotations

import html

import pandas as pd


class Summary(str):
    """summary() text with ``_repr_html_`` (notebooks), ``to_latex()`` and ``to_markdown()``; ``tables`` holds the
    parameter table (estimate, se, z, p, ci_lower, ci_upper) and the variance components as DataFrames."""

    header: str
    tables: dict

    def __new__(cls, text: str, header: str, tables: dict):
        obj = super().__new__(cls, text)
        obj.header, obj.tables = header, tables
        return obj

    def __repr__(self) -> str:  # (the text, not a quoted string, at the prompt)
        return str(self)

    def _repr_html_(self) -> str:
        parts = [f"<pre>{html.escape(self.header)}</pre>"]
        for title, table in self.tables.items():
            parts.append(f"<h4>{html.escape(title)}</h4>" + table.to_html(float_format=lambda x: f"{x:.4f}", na_rep="."))
        return "<div>" + "".join(parts) + "</div>"

    def to_latex(self, digits: int = 4) -> str:
        """The tables as LaTeX tabulars (one per table, with its title as a caption comment)."""
        return "\n".join(f"% {title}\n" + table.to_latex(float_format=f"%.{digits}f", na_rep=".", escape=True)
                         for title, table in self.tables.items())

    def to_markdown(self, digits: int = 4) -> str:
        """The header as text and the tables as Markdown (pipe) tables."""
        parts = ["```", self.header, "```"]
        for title, table in self.tables.items():
            parts += ["", f"**{title}**", "", _pipes_escaped(table).to_markdown(floatfmt=f".{digits}f")]
        return "\n".join(parts)


def _pipes_escaped(table: pd.DataFrame) -> pd.DataFrame:
    """'|' in labels and text cells as '\\|' (a bare one would split a Markdown table's column)."""
    def escape(value):
        return value.replace("|", "\\|") if isinstance(value, str) else value

    return table.rename(index=escape).map(escape)


def summary_tables(result) -> dict:
    """{"Parameters": table(), "Variance components": variance_components()} (the second when there are any)."""
    tables = {"Parameters": result.table()}
    components = result.variance_components()
    if isinstance(components, pd.DataFrame) and len(components):
        tables["Variance components"] = components
    return tables
