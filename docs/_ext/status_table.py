"""``w1flow-statuses``: the table of every status word, generated from :mod:`w1flow.status`.

The table is built from ``w1flow.status.STATUSES`` at build time, so it cannot fall behind the
code. The directive also checks that the page it is on has a section labelled
``status-<word>`` for every word (MyST: ``(status-<word>)=``); a word without one is a
warning, and the docs build (``-W``) fails until the user guide says what to do about it.
"""

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.util import logging

logger = logging.getLogger(__name__)

SCOPES = {"run": "run", "field": "potential / field", "step": "step"}


def _row(cells, header=False):
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        para = nodes.paragraph()
        if isinstance(cell, nodes.Node):
            para += cell
        else:
            para += nodes.Text(cell)
        entry += para
        row += entry
    return row


class StatusTable(Directive):
    has_content = False

    def run(self):
        from w1flow.status import STATUSES

        env = self.state.document.settings.env
        source = Path(env.doc2path(env.docname)).read_text(encoding="utf-8")
        for word in STATUSES:
            if f"(status-{word})=" not in source and f".. _status-{word}:" not in source:
                logger.warning("status %r has no section labelled 'status-%s' on this page", word, word,
                               location=(env.docname, self.lineno))
        headers = ["status", "usable", "reported by", "meaning", "what to do"]
        widths = [18, 7, 13, 28, 34]
        table = nodes.table(classes=["w1flow-status-table", "colwidths-given"])
        group = nodes.tgroup(cols=len(headers))
        table += group
        for w in widths:
            group += nodes.colspec(colwidth=w)
        head = nodes.thead()
        head += _row(headers)
        group += head
        body = nodes.tbody()
        for word, st in STATUSES.items():
            ref = nodes.reference("", "", internal=True, refid=f"status-{word}".replace("_", "-"))
            ref += nodes.literal(word, word)
            body += _row([ref, "yes" if st.ok else "no", ", ".join(SCOPES.get(s, s) for s in st.scope),
                          st.summary, st.advice or "—"])
        group += body
        return [table]


def setup(app):
    app.add_directive("w1flow-statuses", StatusTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
