"""A custody report written as JSON, HTML or CSV, each carrying the signed report; and reading one back. Pure.

JSON is the signed report itself. HTML is a page for people (printable on A4
and Letter) with the signed report embedded in a ``<script
type="application/json">``; CSV is one line per row for spreadsheets, its
last record ``#pva-custody-report/v1`` and the signed report in base64. Each
rendering is a function of the signed report alone, so ``check_file`` checks
the embedded report, then renders it again and compares: a changed word in the
page or a cell of the sheet is found, though the embedded report is intact.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections.abc import Mapping
from html import escape
from typing import Any, Literal

from planner.core.preview import in_stored_order
from sidecar.audit.checkpoints import Verifier, parse_body
from sidecar.audit.custody import VERSION, Checked, check

Format = Literal["json", "html", "csv"]
FORMATS: tuple[Format, ...] = ("json", "html", "csv")
CSV_MARK = f"#pva-{VERSION}"
_EMBEDDED = re.compile(r'<script type="application/json" id="pva-custody-report">(.*?)</script>', re.DOTALL)
CSV_COLUMNS = (
    "seq",
    "time",
    "event",
    "action",
    "path_before",
    "path_after",
    "sha256_before",
    "size_before",
    "generation_before",
    "sha256_after",
    "size_after",
    "generation_after",
    "plan",
    "title",
    "author",
    "decisions",
    "actor",
    "note",
)


def render(document: Mapping[str, Any], fmt: Format) -> str:
    """The report in ``fmt``."""
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return render_csv(document)
    return render_html(document)


def read(data: bytes) -> tuple[dict[str, Any], Format]:
    """The signed report a file carries and the file's format; ValueError when it carries none."""
    text = data.decode("utf-8")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _object(json.loads(text)), "json"
    found = _EMBEDDED.search(text)
    if found is not None:
        return _object(json.loads(found.group(1).replace("<\\/", "</"))), "html"
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    mark, _, encoded = last.partition(",")
    if mark == CSV_MARK:
        try:
            return _object(json.loads(base64.b64decode(encoded, validate=True))), "csv"
        except (binascii.Error, ValueError):
            raise ValueError("the CSV's last record does not hold a report") from None
    raise ValueError("not a custody report: no JSON report, embedded report or CSV record found")


def check_file(data: bytes, verifier: Verifier) -> Checked:
    """``custody.check`` of the report a file carries, and that the file is that report's rendering."""
    try:
        document, fmt = read(data)
    except (ValueError, UnicodeDecodeError) as error:
        return Checked((str(error),), 0, 0, None)
    checked = check(document, verifier)
    if fmt != "json" and checked.events and data not in _renderings(document, fmt):
        problem = f"the {fmt.upper()} file is not the rendering of the report it carries: it was edited"
        return Checked((*checked.problems, problem), checked.events, checked.rows, checked.checkpoint_size)
    return checked


def _renderings(document: Mapping[str, Any], fmt: Format) -> tuple[bytes, ...]:
    """The renderings that are the report's own: this pva's, and for HTML the one before 2026-12-05.

    That one showed bidi controls as they are; a page made then still checks.
    """
    now = render(document, fmt).encode("utf-8")
    return (now, _page(document).encode("utf-8")) if fmt == "html" else (now,)


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("a custody report is a JSON object")  # noqa: TRY004  # read's one error: "not a report"
    return value


# -- CSV ------------------------------------------------------------------------


def render_csv(document: Mapping[str, Any]) -> str:
    """A header, one record a row, then the signed report as the last record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in document["rows"]:
        writer.writerow([_cell(value) for value in _csv_values(row)])
    encoded = base64.b64encode(json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    out.write(f"{CSV_MARK},{encoded.decode('ascii')}\n")
    return out.getvalue()


def _csv_values(row: Mapping[str, Any]) -> list[object]:
    before, after = row["before"] or {}, row["after"] or {}
    decisions = "; ".join(
        f"{d['decision']} by {d['approver']} at {d['time']}" + (f": {d['comment']}" if d["comment"] else "")
        for d in row["decisions"]
    )
    return [
        row["seq"],
        row["time"],
        row["event"],
        row["action"],
        row["path_before"],
        row["path_after"],
        before.get("sha256"),
        before.get("size"),
        before.get("generation"),
        after.get("sha256"),
        after.get("size"),
        after.get("generation"),
        row["plan"],
        row["title"],
        row["author"],
        decisions,
        row["actor"],
        row["note"],
    ]


def _cell(value: object) -> str:
    """A cell's text; one a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- HTML -----------------------------------------------------------------------

STYLE = """
@page { size: auto; margin: 14mm 12mm; }
body { font: 10pt/1.35 system-ui, sans-serif; color: #111; margin: 0 auto; max-width: 60rem; padding: 1rem; }
h1 { font-size: 15pt; margin: 0 0 .4rem; } h2 { font-size: 12pt; margin: 1.2rem 0 .4rem; }
h1, p { overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: 0; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { border: 1px solid #999; padding: .2rem .3rem; vertical-align: top; text-align: left;
  overflow-wrap: anywhere; word-break: break-word; }
th { background: #eee; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
.hash, code { font: 7.5pt/1.25 ui-monospace, monospace; word-break: break-all; }
.muted { color: #555; }
col.when { width: 15%; } col.what { width: 27%; } col.content { width: 26%; } col.plan { width: 22%; }
col.by { width: 10%; }
@media print { body { max-width: none; padding: 0; } a { color: inherit; text-decoration: none; } }
"""


def render_html(document: Mapping[str, Any]) -> str:
    """A printable page: what the report covers, its rows, its events' hashes, how to check it.

    Bidi embeddings, overrides and isolates in a title, comment or name are
    shown as their codes (``in_stored_order``), on the whole page: a title
    ending RLO "fdp.exe" would read "exe.pdf". The embedded report is the
    same report (in JSON an escape is its character).
    """
    return in_stored_order(_page(document))


def _page(document: Mapping[str, Any]) -> str:
    subject = document["subject"]
    title = f"Chain of custody: {subject['target']}"
    embedded = json.dumps(document, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        f"<h1>{escape(title)}</h1>\n",
        _summary(document),
        "<h2>Events</h2>\n",
        _rows_table(document["rows"]),
        "<h2>The audit log's records of these events</h2>\n",
        _events_table(document["events"]),
        "<h2>Checking this report</h2>\n",
        (
            "<p>This page carries the signed report it shows. Anyone with the firm's verifier key checks it, "
            "with no access to the firm's systems, by running "
            "<code>pva custody verify FILE --key KEY</code>: the signature, the checkpoint's signature, "
            "each event's hash and its inclusion proof in the audit log, and that this page shows exactly "
            "what the events say.</p>\n"
        ),
        f'<script type="application/json" id="pva-custody-report">{embedded}</script>\n',
        "</body>\n</html>\n",
    ]
    return "".join(parts)


def _summary(document: Mapping[str, Any]) -> str:
    subject = document["subject"]
    about = "the documents in the matter folder" if subject["kind"] == "matter" else "the document"
    window = f"{subject['from'] or 'the beginning'} to {subject['to'] or 'the time it was made'}"
    checkpoint = _checkpoint_text(document["checkpoint"])
    items = [
        ("Report on", f"{about} {subject['target']}"),
        ("Names followed", ", ".join(subject["names"])),
        ("Period", window),
        ("Made", f"{document['made']} by {document['made_by']}"),
        ("Events", f"{len(document['events'])} ({len(document['rows'])} rows)"),
        ("Checkpoint", checkpoint),
        ("Signed by", str(document.get("signature", "")).removeprefix("\u2014 ").split(" ")[0]),
    ]
    return "<dl>\n" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>\n" for k, v in items) + "</dl>\n"


def _checkpoint_text(note: str) -> str:
    try:
        head = parse_body(note[: note.find("\n\n") + 1])
    except ValueError:
        return "(unreadable)"
    return f"{head.origin}, {head.size} events, root {base64.b64encode(head.root).decode('ascii')}"


def _rows_table(rows: list[Mapping[str, Any]]) -> str:
    head = (
        '<table class="rows">\n<colgroup><col class="when"><col class="what"><col class="content">'
        '<col class="plan"><col class="by"></colgroup>\n'
        "<thead><tr><th>When</th><th>What</th><th>Content (sha256)</th><th>Plan and approvals</th>"
        "<th>By</th></tr></thead>\n<tbody>\n"
    )
    body = "".join(_row_html(row) for row in rows) or '<tr><td colspan="5">No events.</td></tr>\n'
    return head + body + "</tbody>\n</table>\n"


def _row_html(row: Mapping[str, Any]) -> str:
    when = f'{escape(row["time"])}<br><span class="muted">seq {row["seq"]}</span>'
    what = f"<strong>{escape(row['action'])}</strong>"
    if row["path_before"] is not None:
        what += f"<br>from {escape(row['path_before'])}"
    if row["path_after"] is not None:
        what += f"<br>to {escape(row['path_after'])}"
    if row["note"]:
        what += f'<br><span class="muted">{escape(row["note"])}</span>'
    content = _content(row["before"], "before") + _content(row["after"], "after")
    return (
        f"<tr><td>{when}</td><td>{what}</td><td>{content}</td><td>{_plan_html(row)}</td>"
        f"<td>{escape(row['actor'])}</td></tr>\n"
    )


def _content(found: Mapping[str, Any] | None, label: str) -> str:
    if found is None or found.get("kind") == "dir":
        return ""
    facts = [f"{found['size']} bytes" if found.get("size") is not None else ""]
    if found.get("generation") is not None:
        facts.append(f"generation {found['generation']}")
    known = ", ".join(fact for fact in facts if fact)
    sha = escape(found.get("sha256") or "not known")
    return f'<div>{label}{": " + known if known else ""}<br><span class="hash">{sha}</span></div>'


def _plan_html(row: Mapping[str, Any]) -> str:
    if row["plan"] is None:
        return ""
    text = f'{escape(row["title"] or "")}<br><span class="hash">{escape(row["plan"])}</span>'
    if row["author"]:
        text += f"<br>submitted by {escape(row['author'])}"
    for decision in row["decisions"]:
        comment = f": \u201c{escape(decision['comment'])}\u201d" if decision["comment"] else ""
        text += (
            f"<br>{escape(decision['decision'])} by {escape(decision['approver'])} "
            f"at {escape(decision['time'])}{comment}"
        )
    return text


def _events_table(events: list[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{event['seq']}</td><td>{escape(event['time'])}</td><td>{escape(event['kind'])}</td>"
        f'<td class="hash">{escape(event["hash"])}</td></tr>\n'
        for event in events
    )
    return (
        '<table class="events">\n<colgroup><col style="width:8%"><col style="width:24%">'
        '<col style="width:16%"><col style="width:52%"></colgroup>\n'
        "<thead><tr><th>Seq</th><th>Recorded</th><th>Kind</th><th>Event hash (sha256)</th></tr></thead>\n"
        f"<tbody>\n{rows}</tbody>\n</table>\n"
    )
