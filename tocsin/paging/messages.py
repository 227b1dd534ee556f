"""The words of a page: short enough for a phone lock screen, with the links that matter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageMessage:
    title: str
    body: str


def page_message(
    *,
    subject_key: str,
    title: str,
    severity: str,
    service: str | None,
    link: str,
    acknowledge_link: str,
    resolve_link: str | None,
    note: str = "",
    paged_by: str | None = None,
) -> PageMessage:
    """'[critical] ALR-12 Disk 95% full on db-1', then what, where, and two one-click links."""
    lines = [f"{subject_key}: {title}", f"Severity: {severity}"]
    if service:
        lines.append(f"Service: {service}")
    if paged_by:
        lines.append(f"Paged by: {paged_by}")
    if note:
        lines += ["", note]
    lines += [
        "",
        f"Open: {link}",
        f"Acknowledge: {acknowledge_link}",
    ]
    if resolve_link:
        lines.append(f"Resolve: {resolve_link}")
    lines += ["", "These links work once and expire after a day; Open needs a login."]
    return PageMessage(title=f"[{severity}] {subject_key} {title}"[:300], body="\n".join(lines))


def restricted_notice(*, subject_key: str, severity: str, what: str, link: str) -> PageMessage:
    """For a restricted incident only its key, severity and link leave Tocsin, never its text."""
    return PageMessage(
        title=f"[{severity}] {subject_key} {what}"[:300],
        body=(
            f"{subject_key} ({severity}): {what}.\n\nOpen: {link}\n\n"
            "It is restricted: what it is about is shown only in Tocsin, after logging in."
        ),
    )
