"""The HTML report: one self-contained page to triage what a scan found (issue 13).

One entry per credential, most urgent first, each with what validation said, every place it was
seen (line masked, commit, author, date), and what to do in order. Filters and a search box are a
few lines of inline script; with scripting off the page lists everything. Nothing is fetched: the
style and script are inline and a Content-Security-Policy forbids any request. Every text that
came from a file, a repository or a server is escaped (control characters too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import TextIO

from akscan.model import LIVE, UNKNOWN, Finding, Validation
from akscan.report import ReportContext
from akscan.report.credentials import URGENCY, Credential, group, tip_note
from akscan.report.excerpt import Excerpts, printable
from akscan.report.html_assets import CSP, SCRIPT, STYLE
from akscan.report.html_chart import introduced_chart
from akscan.report.remediation import steps

_REPOSITORY_KEYS = ("repository", "repo")
URGENT = frozenset({LIVE, UNKNOWN})  # their steps are shown unfolded
_SHOWN_ORIGIN = ("commit", "author", "email", "date", *_REPOSITORY_KEYS)


def write(stream: TextIO, findings: Sequence[Finding], context: ReportContext) -> None:
    credentials = group(findings)
    excerpts = Excerpts(findings, context.show_secrets)
    repositories = sorted({r for c in credentials for r in _repositories(c)})
    rules = sorted({r for c in credentials for r in c.rules})
    out = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>akscan: {len(credentials)} credential(s)</title><style>{STYLE}</style>",
        "</head><body><header><h1>akscan report</h1>",
        f'<p class="meta">akscan {_t(context.tool_version)} · {_t(context.command)}'
        + (f" · {_t(context.base_dir)}" if context.base_dir else "")
        + (" · <b>secrets shown in full (--show-secrets)</b>" if context.show_secrets else "")
        + "</p></header>",
        _figures(credentials, findings, repositories),
        _incomplete(context.incomplete),
    ]
    chart = introduced_chart(credentials)
    if chart:
        out.append(f'<section class="chart"><h2>When credentials were introduced</h2>{chart}'
                   "</section>")
    out.append(_filters(credentials, rules, repositories))
    out.append('<main id="credentials">')
    if not credentials:
        out.append('<p class="none">No credentials found.</p>')
    out.extend(_entry(c, excerpts, context, bool(repositories)) for c in credentials)
    out.append(f"</main><script>{SCRIPT}</script></body></html>\n")
    stream.write("\n".join(out))


def _incomplete(problems: Sequence[str]) -> str:
    """What was not scanned or was cut, above everything else: the list below is a lower bound."""
    if not problems:
        return ""
    items = "".join(f"<li>{_t(p)}</li>" for p in problems)
    return (f'<section class="incomplete" id="incomplete"><h2>Not scanned or incomplete: '
            f"{len(problems)}</h2><p>The credentials below are a lower bound.</p>"
            f"<ul>{items}</ul></section>")


def _t(text: str | None) -> str:
    """Text for an element or an attribute: control characters shown, markup escaped."""
    return escape(printable(text or ""), quote=True)


def _lines(items: Iterable[str]) -> str:
    return "&#10;".join(_t(item) for item in items)


def _figures(credentials: Sequence[Credential], findings: Sequence[Finding],
             repositories: Sequence[str]) -> str:
    counts = {s: sum(c.status == s for c in credentials) for s in URGENCY}
    figures = [("credentials", len(credentials), "")]
    figures += [(s, n, s) for s, n in counts.items() if n or s == "live"]
    figures.append(("findings", len(findings), ""))
    figures.append(("files", len({f.path for f in findings}), ""))
    commits = {dict(f.origin).get("commit") for f in findings} - {None}
    if commits:
        figures.append(("commits", len(commits), ""))
    if repositories:
        figures.append(("repositories", len(repositories), ""))
    suppressed = sum(c.suppressed is not None for c in credentials)
    if suppressed:
        figures.append(("suppressed", suppressed, ""))
    items = "".join(f'<li class="{css}" data-figure="{_t(name)}"><b>{n}</b>{_t(name)}</li>'
                    for name, n, css in figures)
    return f'<ul class="figures" id="summary">{items}</ul>'


def _filters(credentials: Sequence[Credential], rules: Sequence[str],
             repositories: Sequence[str]) -> str:
    present = [s for s in URGENCY if any(c.status == s for c in credentials)]
    boxes = "".join(f'<label><input type="checkbox" name="status" value="{s}" checked> {s}'
                    "</label>" for s in present)
    rule_options = "".join(f'<option value="{_t(r)}">{_t(r)}</option>' for r in rules)
    parts = [
        '<form id="filters" hidden role="search" aria-label="Filter the credentials">',
        f'<fieldset><legend class="sev">status</legend>{boxes}</fieldset>',
        f'<label>rule <select name="rule"><option value="">any</option>{rule_options}'
        "</select></label>",
        '<label>path <input type="text" name="path" size="14" placeholder="contains"></label>',
    ]
    if repositories:
        options = "".join(f'<option value="{_t(r)}">{_t(r)}</option>' for r in repositories)
        parts.append(f'<label>repository <select name="repo"><option value="">any</option>'
                     f"{options}</select></label>")
    parts.append('<label>search <input type="search" name="q" size="18" '
                 'placeholder="ID, owner, commit…"></label>')
    parts.append(f'<span class="sev"><span id="shown">{len(credentials)}</span> of '
                 f"{len(credentials)} shown</span></form>")
    parts.append(f"<noscript><p class=\"meta\">Filters need JavaScript; all {len(credentials)} "
                 "credential(s) are listed.</p></noscript>")
    return "".join(parts)


def _entry(credential: Credential, excerpts: Excerpts, context: ReportContext,
           with_repositories: bool) -> str:
    lead = credential.lead
    shown = lead.secret if context.show_secrets else lead.redacted
    repos = _repositories(credential)
    search = " ".join([credential.status, credential.title, shown, *credential.rules,
                       *credential.paths, *repos, *credential.origin("commit"),
                       *credential.origin("author"), *_validation_words(credential.validation)])
    attributes = {  # lists are one item a line, each item escaped on its own
        "id": _t(f"c-{credential.ident}"), "class": f"credential {credential.status}",
        "data-status": credential.status, "data-rules": _lines(credential.rules),
        "data-paths": _lines(p.lower() for p in credential.paths), "data-repos": _lines(repos),
        "data-search": _t(search.lower()),
    }
    attrs = " ".join(f'{k}="{v}"' for k, v in attributes.items())
    header = (f'<h2><span class="badge {credential.status}">{credential.status.upper()}</span> '
              f'{_t(credential.title)} <code>{_t(shown)}</code> '
              f'<span class="sev">{_t(credential.severity)}</span></h2>')
    todo = "".join(f"<li>{_t(step)}" + (f"<br><code>{_t(command)}</code>" if command else "")
                   + "</li>" for step, command in steps(credential))
    urgent = " open" if credential.status in URGENT else ""
    return (f"<article {attrs}>{header}{_facts(credential)}"
            f"{_locations(credential, excerpts, context, with_repositories)}"
            f'<details class="todo"{urgent}><summary>What to do, in order</summary><ol>{todo}'
            "</ol></details></article>")


def _facts(credential: Credential) -> str:
    rows: list[tuple[str, str]] = []
    v = credential.validation
    if v is None:
        why = ("suppressed keys are not sent (--validate-suppressed sends them)"
               if credential.suppressed else "run with --validate to ask Alibaba Cloud")
        rows.append(("validation", f"not checked ({why})"))
    else:
        rows.append(("validation", _t(v.reason)))
        if v.arn or v.account_id:
            owner = v.arn or ""
            if v.user_name:
                owner += f" (RAM user {v.user_name})"
            if v.account_id:
                owner += f", account {v.account_id}"
            rows.append(("owner", _t(owner.strip(", "))))
        if v.created:
            age = f" ({v.age_days} days ago)" if v.age_days is not None else ""
            rows.append(("created", _t(v.created + age)))
        if v.last_used:
            rows.append(("last used", _t(v.last_used)))
        if v.key_status:
            rows.append(("RAM status", _t(v.key_status)))
        if v.flags:
            rows.append(("flags", " ".join(f'<span class="flag">{_t(f)}</span>'
                                           for f in v.flags)))
    first = credential.introduced
    if first is not None:
        origin = dict(first.origin)
        rows.append(("introduced", _t(f"commit {origin.get('commit', '?')[:12]} by "
                                      f"{origin.get('author', '?')} on "
                                      f"{origin.get('date', '?')} in {first.path}")))
    tip = credential.tip_summary()
    if tip:
        rows.append(("at the tip", _t(tip)))
    if credential.suppressed:
        rows.append(("suppressed", _t(credential.suppressed)))
    rows.append(("rules", _t(", ".join(credential.rules))))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="facts">{body}</dl>'


def _locations(credential: Credential, excerpts: Excerpts, context: ReportContext,
               with_repositories: bool) -> str:
    # A scan of files has no commits: no column of "working tree" then.
    with_commits = any(dict(f.origin).get("commit") for f in credential.findings)
    head = "<th>where</th><th>what</th><th>line</th>" + ("<th>commit</th>" if with_commits else "")
    if with_repositories:
        head = "<th>repository</th>" + head
    rows = []
    for finding in credential.findings:
        origin = dict(finding.origin)
        where = f"<code>{_t(finding.path)}:{finding.line}:{finding.column}</code>"
        notes = []
        if "!" in finding.path:
            notes.append("in an archive")
        if finding.decoded:
            notes.append(f"decoded from {' then '.join(finding.decoded)}")
        if finding.suppressed:
            notes.append(f"suppressed ({finding.suppressed})")
        if notes:
            where += f'<br><span class="sev">{_t("; ".join(notes))}</span>'
        value = finding.secret if context.show_secrets else finding.redacted
        what = (f"{_t(finding.rule_id)}<br><code>{_t(value)}</code> "
                f'<span class="sev">{_t(finding.kind)}</span>')
        line = f'<span class="line">{_t(excerpts.line(finding))}</span>'
        commit = _commit_cell(finding)
        cells = [where, what, line, commit] if with_commits else [where, what, line]
        if with_repositories:
            cells.insert(0, _t(next((origin[k] for k in _REPOSITORY_KEYS if origin.get(k)), "")))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="locations"><tr>{head}</tr>{"".join(rows)}</table>'


def _commit_cell(finding: Finding) -> str:
    origin = dict(finding.origin)
    if not origin.get("commit"):
        return '<span class="sev">working tree</span>'
    parts = [f'<code title="{_t(origin["commit"])}">{_t(origin["commit"][:12])}</code>']
    if origin.get("author"):
        email = f" &lt;{_t(origin['email'])}&gt;" if origin.get("email") else ""
        parts.append(f"{_t(origin['author'])}{email}")
    if origin.get("date"):
        parts.append(_t(origin["date"]))
    parts += [f"{_t(k)}: {_t(v)}" for k, v in finding.origin if k not in _SHOWN_ORIGIN]
    note = tip_note(finding, short=True)
    if note:
        parts.append(f'<span class="tip">{_t(note)}</span>')
    return "<br>".join(parts)


def _repositories(credential: Credential) -> list[str]:
    return [r for key in _REPOSITORY_KEYS for r in credential.origin(key)]


def _validation_words(v: Validation | None) -> Iterable[str]:
    if v is None:
        return []
    return [v.reason, v.arn or "", v.user_name or "", v.account_id or "", *v.flags]
