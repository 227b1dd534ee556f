"""The blameless-language check: points at people's names and blame phrasing in a
postmortem, with the exact span and a suggestion (name the role or the system instead).

Plain text in, findings out: no I/O. The phrases come from `blame_words.txt` (one file a
team extends); the names from Tocsin's directory, given by the caller. It is advice: a
finding can be dismissed, and the reviewer sees that it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

WORD_LIST = Path(__file__).with_name("blame_words.txt")
PERSON = "{person}"
NAME_SUGGESTION = (
    "Name the role (the incident manager, the on-call engineer) or the system, not the person."
)
APOSTROPHES = "['\u2019]"  # straight or curly
SPACES = r"\s+"
# Lines the template writes to say who held each role: naming them there is the point.
ROLE_LINES = re.compile(
    r"^(Incident manager|Tech leads|Communications manager|Reported by):.*$", re.MULTILINE
)
# First names that are also everyday words, flagged only as part of the full name.
COMMON_WORDS = frozenset(
    {"may", "will", "mark", "bill", "june", "april", "august", "rob", "pat", "sue", "art"}
    | {"grant", "chase", "hope", "joy", "faith", "dawn", "summer", "drew", "gene", "max"}
    | {"jack", "sam", "mike", "ray", "rose", "victor", "frank", "early"}
)


@dataclass(frozen=True)
class Phrase:
    text: str
    suggestion: str


@dataclass(frozen=True)
class WordList:
    phrases: tuple[Phrase, ...]
    never: tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    """One piece of advice: text[start:end] is what it points at."""

    start: int
    end: int
    text: str
    kind: str  # "person" or "phrase"
    suggestion: str

    @property
    def key(self) -> str:
        """What a dismissal remembers: the words, not where they stand (edits move them)."""
        return " ".join(self.text.casefold().split())


def parse_word_list(text: str) -> WordList:
    """'phrase | suggestion' lines; '!phrase' never flags; '#' comments."""
    phrases: list[Phrase] = []
    never: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            never.append(line[1:].strip())
            continue
        phrase, bar, suggestion = line.partition("|")
        if not bar or not phrase.strip() or not suggestion.strip():
            raise ValueError(f"line {number}: write 'phrase | suggestion'")
        phrases.append(Phrase(phrase.strip(), suggestion.strip()))
    return WordList(tuple(phrases), tuple(never))


@cache
def word_list(extra: str | None = None) -> WordList:
    """The shipped list, plus a team's own file when one is named."""
    text = WORD_LIST.read_text(encoding="utf-8")
    if extra:
        text += "\n" + Path(extra).read_text(encoding="utf-8")
    return parse_word_list(text)


def _phrase_pattern(phrase: str, names: str | None) -> str | None:
    """A phrase as a pattern: whole words, any run of spaces, straight or curly apostrophes;
    {person} is any name in `names`. None when the phrase needs a name and there is none."""
    pieces = []
    for word in phrase.split():
        before, person, after = word.partition(PERSON)
        if person and names is None:
            return None
        piece = re.escape(before) + (names if person else "") + re.escape(after)
        pieces.append(piece.replace("'", APOSTROPHES))
    return r"(?<![\w-])" + SPACES.join(pieces) + r"(?![\w-])"


def _name_pattern(names: Sequence[str]) -> str | None:
    alternatives = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True)
    if not alternatives:
        return None
    return "(?:" + "|".join(re.escape(n) for n in alternatives) + ")"


def _spans_of_never(text: str, words: WordList) -> list[tuple[int, int]]:
    spans = []
    for phrase in words.never:
        pattern = _phrase_pattern(phrase, None) or "(?!)"
        for match in re.finditer(pattern, text, re.IGNORECASE):
            spans.append(match.span())
    return spans


def _masked(text: str) -> str:
    """The text with role lines blanked out (same length, so spans stay true)."""
    return ROLE_LINES.sub(lambda m: " " * len(m.group(0)), text)


def check(text: str, words: WordList, people: Sequence[str]) -> list[Finding]:
    """Every finding in `text`, in order; overlapping ones keep the longest."""
    if not text.strip():
        return []
    masked = _masked(text)
    full_names = [p for p in people if len(p.split()) > 1 or len(p) >= 3]
    firsts = [
        p.split()[0]
        for p in people
        if len(p.split()) > 1
        and len(p.split()[0]) >= 3
        and p.split()[0].lower() not in COMMON_WORDS
    ]
    name_pattern = _name_pattern(full_names)
    phrase_names = _name_pattern([*full_names, *firsts])  # "Rita forgot", "Bob's fault"
    found: list[Finding] = []
    for phrase in words.phrases:
        pattern = _phrase_pattern(phrase.text, phrase_names)
        if pattern is None:
            continue
        for match in re.finditer(pattern, masked, re.IGNORECASE):
            start, end = match.span()
            found.append(Finding(start, end, text[start:end], "phrase", phrase.suggestion))
    if name_pattern:
        person = rf"(?<![\w-]){name_pattern}(?![\w-])"
        for match in re.finditer(person, masked, re.IGNORECASE):
            found.append(
                Finding(match.start(), match.end(), match.group(0), "person", NAME_SUGGESTION)
            )
    first = _name_pattern(firsts)
    if first:
        for match in re.finditer(rf"(?<![\w-]){first}(?![\w-])", masked):  # as written: Rita
            found.append(
                Finding(match.start(), match.end(), match.group(0), "person", NAME_SUGGESTION)
            )
    never = _spans_of_never(masked, words)
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if any(s <= finding.start and finding.end <= e for s, e in never):
            continue
        if kept and finding.start < kept[-1].end:
            continue  # inside a longer finding already kept
        kept.append(finding)
    return kept


def sections_to_check(
    document: dict[str, Any], text_sections: Iterable[str]
) -> list[tuple[str, str]]:
    """(section, text) of everything people write in prose: the text sections and the five
    whys. The timeline is the record of who did what, and is left alone."""
    pairs = [(name, document.get(name) or "") for name in text_sections]
    for index, step in enumerate(document.get("five_whys") or []):
        pairs.append((f"five_whys.{index}.why", step.get("why", "")))
        pairs.append((f"five_whys.{index}.answer", step.get("answer", "")))
    return pairs
