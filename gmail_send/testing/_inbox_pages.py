"""The inbox page's HTML: the message list and one message, every value escaped here.

The pages load only their own stylesheet and script (`_static/`); a message's HTML body is
never part of them: it is shown in a sandboxed frame from its own address (see `_inbox`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from html import escape

from ._inbox_data import MessageView

__all__ = ["list_page", "message_page", "rows"]


def _page(title: str, where: str, body: str, *, script: bool = False) -> bytes:
    script_tag = '<script src="/static/inbox.js" defer></script>' if script else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{escape(title)}</title>
<link rel="stylesheet" href="/static/inbox.css">
{script_tag}
</head>
<body>
<header>
<h1><a href="/">Local Gmail inbox</a></h1><span class="where">{escape(where)}</span>
</header>
<main>
{body}
</main>
</body>
</html>
""".encode()


def _when(view: MessageView) -> str:
    moment = datetime.datetime.fromtimestamp(view.received.received_at)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def rows(views: Sequence[MessageView], where: str) -> str:
    """The list's table rows, newest first (the views come in that order)."""
    if not views:
        return (
            '<tr class="empty-row"><td colspan="5" class="empty">No messages yet: send to '
            f"{escape(where)} and they appear here.</td></tr>"
        )
    lines = []
    for view in views:
        attachments = [part for part in view.parts if not part.inline]
        count = len(attachments)
        label = f"{count} attachment{'s' if count > 1 else ''}"
        badge = f'<span class="badge">{label}</span>' if attachments else ""
        subject = view.header("Subject") or "(no subject)"
        lines.append(
            f'<tr data-id="{escape(view.id)}">'
            f'<td class="when">{escape(_when(view))}</td>'
            f'<td class="from">{escape(view.header("From") or view.received.mail_from)}</td>'
            f'<td class="to">{escape(", ".join(view.received.rcpt_tos))}</td>'
            f'<td class="subject"><a href="{escape(view.url)}">{escape(subject)}</a>{badge}</td>'
            f'<td class="size">{escape(_size(len(view.received.data)))}</td>'
            "</tr>"
        )
    return "\n".join(lines)


def list_page(views: Sequence[MessageView], where: str) -> bytes:
    """The message list, newest first; its script keeps it up to date."""
    body = f"""<p class="note"><span id="count">{len(views)}</span> message(s), newest first;
new ones appear as they arrive. The same data as JSON: <a href="/api/messages">/api/messages</a>.
</p>
<table class="messages">
<thead><tr><th>Received</th><th>From</th><th>Envelope to</th><th>Subject</th><th>Size</th></tr>
</thead>
<tbody id="rows">
{rows(views, where)}
</tbody>
</table>"""
    title = f"({len(views)}) Local Gmail inbox" if views else "Local Gmail inbox"
    return _page(title, where, body, script=True)


def message_page(view: MessageView, where: str) -> bytes:
    """One message: envelope, bodies, attachments, headers and the raw source."""
    received = view.received
    subject = view.header("Subject") or "(no subject)"
    envelope = [
        ("From", view.header("From")),
        ("To", view.header("To")),
        ("Cc", view.header("Cc")),
        ("Reply-To", view.header("Reply-To")),
        ("Date", view.header("Date")),
        ("Message-ID", view.header("Message-ID")),
        ("MAIL FROM", received.mail_from),
        ("RCPT TO", ", ".join(received.rcpt_tos)),
        ("Signed in as", received.session_user or "(not signed in)"),
        ("Received", f"{_when(view)}, {_size(len(received.data))}"),
    ]
    if received.sender_rewritten:
        envelope.append(("Sender rewritten from", received.original_mail_from))
    envelope_rows = "\n".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in envelope
        if value
    )
    sections = [f'<h1 class="subject">{escape(subject)}</h1>']
    sections.append(f'<table class="envelope">{envelope_rows}</table>')
    if view.html is not None:
        sections.append(
            '<h2>HTML</h2><p class="note">Shown without scripts, forms or anything loaded '
            "from the network; inline images come from the message itself.</p>"
            f'<iframe class="html-body" title="HTML body" sandbox src="{escape(view.url)}/html"'
            ' referrerpolicy="no-referrer"></iframe>'
        )
    if view.text is not None:
        sections.append(f'<h2>Text</h2><pre class="text-body">{escape(view.text)}</pre>')
    if view.parts:
        items = []
        for part in view.parts:
            name = part.filename or f"part {part.number}"
            kind = "inline image" if part.inline else "attachment"
            items.append(
                f'<li><a href="{escape(view.url)}/parts/{part.number}" download>'
                f'{escape(name)}</a> <span class="note">{escape(part.content_type)}, '
                f"{escape(_size(len(part.payload)))}, {kind}</span></li>"
            )
        sections.append(f'<h2>Attachments</h2><ul class="parts">{"".join(items)}</ul>')
    header_rows = "\n".join(
        f'<tr><td class="name">{escape(name)}</td><td>{escape(value)}</td></tr>'
        for name, value in view.headers
    )
    sections.append(
        f'<details class="headers"><summary>Headers ({len(view.headers)})</summary>'
        f'<table class="headers">{header_rows}</table></details>'
    )
    raw = received.data.decode("utf-8", "replace")
    sections.append(
        '<details class="raw"><summary>Raw source</summary>'
        f'<p><a href="{escape(view.url)}/raw">{escape(view.url)}/raw</a> · '
        f'<a href="/api{escape(view.url)}">JSON</a></p>'
        f'<pre class="raw-source">{escape(raw)}</pre></details>'
    )
    return _page(f"{subject} - Local Gmail inbox", where, "\n".join(sections))
