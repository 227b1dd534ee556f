"""The blameless-language check: the phrases it must flag and must leave alone, with the
exact span and a suggestion; dismissed findings stay visible to the reviewer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.postmortems import blameless

WORDS = blameless.word_list()
PEOPLE = ["Rita Responder", "Bob Builder", "May Chen", "Ingrid Øberg"]

MUST_FLAG = [
    ("It was human error.", "human error", "phrase"),
    ("An operator error during the failover.", "operator error", "phrase"),
    ("Rita forgot to renew the certificate.", "Rita forgot", "phrase"),
    ("The on-call engineer forgot to renew the certificate.", "forgot to", "phrase"),
    ("Someone forgot the flag.", "forgot", "phrase"),
    ("We should have load-tested the change.", "should have", "phrase"),
    ("We shouldn\u2019t have deployed on Friday.", "shouldn\u2019t have", "phrase"),
    ("That was careless.", "careless", "phrase"),
    ("It was the fault of the release manager.", "fault of", "phrase"),
    ("It was Bob's fault.", "Bob's fault", "phrase"),
    ("It was Bob Builder\u2019s fault.", "Bob Builder\u2019s fault", "phrase"),
    ("rita responder restarted the pod", "rita responder", "person"),
    ("Then Ingrid Øberg rolled back.", "Ingrid Øberg", "person"),
    ("Ingrid rolled back.", "Ingrid", "person"),
    ("A sloppy review let it through.", "sloppy", "phrase"),
    ("The engineer failed to check the dashboard.", "failed to", "phrase"),
    ("The team ignored the warning.", "ignored the", "phrase"),
    ("Who is to blame? Nobody.", "to blame", "phrase"),
    ("The outage was blamed on the CDN.", "blamed", "phrase"),
    ("HUMAN ERROR in the runbook", "HUMAN ERROR", "phrase"),
    ("We  should\nhave paged earlier.", "should\nhave", "phrase"),
]

MUST_NOT_FLAG = [
    "The fault was a full connection pool.",
    "The Forgot password page answered 500.",
    "The pod failed to start after the upgrade.",
    "The resolver failed to resolve the name.",
    "Alerts should fire earlier; the dashboard should show the pool size.",
    "The incident manager paged the database on-call.",
    "A blameless review found three causes.",
    "Maybe the cache was cold; in May we doubled it.",
    "The humanerror flag was set.",
    "Bobby tables were dropped.",
    "Incident manager: Rita Responder.",
    "Tech leads: Bob Builder, May Chen.",
    "",
]


@pytest.mark.parametrize(("text", "span", "kind"), MUST_FLAG)
def test_it_flags_blame_and_names_with_their_exact_span(text, span, kind):
    findings = blameless.check(text, WORDS, PEOPLE)
    matching = [f for f in findings if f.text == span]
    assert matching, [f.text for f in findings]
    finding = matching[0]
    assert text[finding.start : finding.end] == span
    assert finding.kind == kind and finding.suggestion


@pytest.mark.parametrize("text", MUST_NOT_FLAG)
def test_it_leaves_blameless_writing_alone(text):
    assert blameless.check(text, WORDS, PEOPLE) == []


def test_a_name_with_a_blame_phrase_is_one_finding_and_apart_two():
    findings = blameless.check("Rita forgot to renew it", WORDS, PEOPLE)
    assert [(f.text, f.kind) for f in findings] == [("Rita forgot", "phrase")]
    findings = blameless.check("Then Rita restarted it; someone forgot to renew it", WORDS, PEOPLE)
    assert [(f.text, f.kind) for f in findings] == [("Rita", "person"), ("forgot to", "phrase")]


def test_a_team_extends_the_word_list():
    extra = blameless.parse_word_list(
        "cowboy deploy | Say which check the deploy skipped.\n!cowboy deploy tool\n"
    )
    words = blameless.WordList(WORDS.phrases + extra.phrases, WORDS.never + extra.never)
    assert [f.text for f in blameless.check("A cowboy deploy broke it", words, [])] == [
        "cowboy deploy"
    ]
    assert blameless.check("We use the cowboy deploy tool", words, []) == []
    with pytest.raises(ValueError, match="line 1"):
        blameless.parse_word_list("no suggestion here")


def test_the_shipped_list_reads_and_every_phrase_has_a_suggestion():
    assert len(WORDS.phrases) >= 20
    assert all(p.suggestion.endswith(".") for p in WORDS.phrases)


@given(st.text(max_size=200), st.lists(st.text(min_size=1, max_size=20), max_size=4))
def test_findings_are_true_spans_in_order_and_never_overlap(text, people):
    findings = blameless.check(text, WORDS, people)
    end = -1
    for finding in findings:
        assert 0 <= finding.start < finding.end <= len(text)
        assert text[finding.start : finding.end] == finding.text
        assert finding.start >= end
        end = finding.end
