"""Postmortems: list, show, export as Markdown.

Importing this module also puts the Learn stage into the incident workflow for the CLI:
resolving a major incident starts its postmortem, and closing waits for its approval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tocsin.cli.common import ActAs, AsJson, Key, acting_person, command_session, when
from tocsin.postmortems import service as postmortems
from tocsin.postmortems.api import list_item, postmortem_out
from tocsin.postmortems.schemas import PostmortemFilters
from tocsin.postmortems.template import LABELS, ORDER
from tocsin.postmortems.workflow import LABEL, Category, Status

postmortem_app = typer.Typer(help="Postmortems: the Learn stage.", no_args_is_help=True)


@postmortem_app.command("list")
def postmortem_list(
    status: Annotated[
        list[Status] | None, typer.Option(help="draft, in_review, approved or published; repeat.")
    ] = None,
    category: Annotated[Category | None, typer.Option(help="Root cause category.")] = None,
    month: Annotated[str | None, typer.Option(help="Published in YYYY-MM.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """Postmortems you may see, newest first."""
    with command_session(write=False) as session:
        actor = acting_person(session, as_email)
        filters = PostmortemFilters(
            status=status or [], category=category, month=month, limit=limit
        )
        found = postmortems.list_postmortems(session, actor, filters)
        if as_json:
            items = [list_item(p).model_dump(mode="json") for p in found]
            typer.echo(json.dumps(items, indent=2))
            return
        if not found:
            typer.echo("No postmortems match.")
            return
        typer.echo(f"{'KEY':<10} {'STATUS':<10} {'OWNER':<20} {'DUE':<17} TITLE")
        for p in found:
            owner = p.owner.name if p.owner else "nobody"
            late = " (overdue)" if postmortems.is_overdue(p) else ""
            typer.echo(
                f"{p.incident.key:<10} {p.status:<10} {owner[:20]:<20} "
                f"{p.due_at:%Y-%m-%d}{late:<7} {p.incident.summary}"
            )


@postmortem_app.command("show")
def postmortem_show(
    key: Key,
    version: Annotated[int | None, typer.Option(min=1, help="An earlier version.")] = None,
    as_email: ActAs = None,
    as_json: AsJson = False,
) -> None:
    """One incident's postmortem, section by section."""
    with command_session(write=False) as session:
        actor = acting_person(session, as_email)
        view = postmortems.get_postmortem(session, actor, key, version)
        if as_json:
            typer.echo(json.dumps(postmortem_out(view).model_dump(mode="json"), indent=2))
            return
        p, document = view.postmortem, view.document
        typer.echo(f"Postmortem of {p.incident.key}: {p.incident.summary}")
        typer.echo(
            f"  status: {LABEL[Status(p.status)]}   version: {view.revision.version}   "
            f"owner: {p.owner.name if p.owner else 'nobody'}   due: {when(p.due_at)}"
        )
        for name in ORDER:
            value = document.get(name)
            if name == "timeline":
                text = "\n".join(f"{row['at'][:16]}  {row['text']}" for row in value or [])
            elif name == "five_whys":
                text = "\n".join(
                    f"{n}. Why? {s['why']}\n   Because {s['answer']}"
                    for n, s in enumerate(value or [], 1)
                )
            elif name == "related_incidents":
                text = ", ".join(value or [])
            else:
                text = value or ""
            typer.echo(f"\n{LABELS[name]}:")
            typer.echo("\n".join(f"  {line}" for line in (text or "-").splitlines()))


@postmortem_app.command("export")
def postmortem_export(
    key: Key,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    version: Annotated[int | None, typer.Option(min=1, help="An earlier version.")] = None,
    as_email: ActAs = None,
) -> None:
    """The postmortem as Markdown."""
    with command_session(write=False) as session:
        actor = acting_person(session, as_email)
        text = postmortems.markdown_of(session, actor, key, version)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {output}.")
