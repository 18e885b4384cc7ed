"""The weekly report as one self-contained HTML page: the summary a reviewer reads first (numbers,
change against last week, alerts), then Evidently's online-quality and drift reports with their
plots, embedded as one document (``iframe srcdoc``: no other file is needed to open it)."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border: 1px solid #ccc; padding: .3rem .7rem; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.alert { background: #fde2e1; border: 1px solid #e0a0a0; padding: .7rem 1rem; }
.ok { background: #e3f6e5; border: 1px solid #a0d0a5; padding: .7rem 1rem; }
.note { background: #fff4d6; border: 1px solid #e0c580; padding: .7rem 1rem; margin-top: .5rem; }
iframe { width: 100%; height: 1400px; border: 1px solid #ddd; }
"""
# Evidently draws its report after the frame loads, and its height depends on the week (columns,
# tests): the frame follows its content instead of scrolling inside the page (srcdoc frames share
# the page's origin, so the page may read their height).
FIT_FRAMES = """
document.querySelectorAll('iframe').forEach((frame) => frame.addEventListener('load', () => {
  const body = frame.contentDocument && frame.contentDocument.body;
  if (!body) return;
  const fit = () => { frame.style.height = (body.scrollHeight + 32) + 'px'; };
  new ResizeObserver(fit).observe(body);
  fit();
}));
"""


def weekly_page(
    summary: dict[str, Any],
    values: dict[str, float],
    changes: dict[str, float],
    reasons: list[str],
    notes: list[str],
    sections: list[tuple[str, str]],
) -> str:
    """``notes``: what the reader should know besides alerts (what was not computed, small
    samples); ``sections``: (title, a full Evidently HTML document) in display order."""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{value:.4f}</td>"
        f"<td>{'-' if name not in changes else f'{changes[name]:+.1%}'}</td></tr>"
        for name, value in values.items()
    )
    facts = "".join(
        f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in summary.items()
    )
    if reasons:
        verdict = (
            '<div class="alert"><b>Alert</b><ul>'
            + "".join(f"<li>{escape(r)}</li>" for r in reasons)
            + "</ul></div>"
        )
    elif notes:
        verdict = '<div class="ok">No alert on what was computed (see the notes).</div>'
    else:
        verdict = '<div class="ok">No alert: drift and quality within the thresholds.</div>'
    if notes:
        verdict += (
            '<div class="note"><b>Notes</b><ul>'
            + "".join(f"<li>{escape(n)}</li>" for n in notes)
            + "</ul></div>"
        )
    embedded = "".join(
        f'<h2>{escape(title)}</h2><iframe srcdoc="{escape(document, quote=True)}"></iframe>'
        for title, document in sections
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>recsys weekly report {escape(str(summary.get('week', '')))}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Weekly report {escape(str(summary.get('week', '')))}</h1>{verdict}"
        f"<table>{facts}</table>"
        "<h2>Numbers</h2><table><tr><th>metric</th><th>this week</th><th>vs last week</th></tr>"
        f"{rows}</table>{embedded}<script>{FIT_FRAMES}</script></body></html>"
    )
