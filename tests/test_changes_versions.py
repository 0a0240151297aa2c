"""Versions: minor-change gates, material edits, the diff and its renderers."""

from __future__ import annotations

import json

from monitor.changes.offline import diff_html, diff_json, diff_markdown, render_diff
from monitor.changes.versions import align, compare, information, minor_reason, word_diff

OLD = (
    "Updated 20 November 2026, 08:14 GMT\n"
    "Rescue teams reached the village of Tanah Merah on Tuesday after a strong earthquake. "
    "Officials said at least 14 people were killed and 230 injured. "
    "The search will continue through the night, the regional governor said.\n"
    "132 comments"
)


def test_identical_text_is_no_change() -> None:
    d = compare(OLD, OLD)
    assert not d.material and d.changes == () and d.reason


def test_whitespace_only_is_minor() -> None:
    d = compare(OLD, OLD.replace(". ", ".  ").replace("\n", "\n\n"))
    assert not d.material and d.reason == "whitespace or punctuation only"


def test_punctuation_only_is_minor() -> None:
    d = compare(OLD, OLD.replace("killed and", "killed, and"))
    assert not d.material and d.reason == "whitespace or punctuation only"
    assert [c.op for c in d.changes] == ["changed"]  # still shown, never material


def test_timestamp_and_counter_change_is_minor() -> None:
    new = OLD.replace("08:14", "09:52").replace("132 comments", "187 comments")
    d = compare(OLD, new)
    assert not d.material and d.reason == "date line or counters only"


def test_changed_death_toll_is_material() -> None:
    d = compare(OLD, OLD.replace("at least 14 people", "at least 31 people"))
    assert d.material and d.numbers == (("14",), ("31",))
    assert "14" in d.summary and "31" in d.summary


def test_spelling_fix_is_minor() -> None:
    d = compare(OLD, OLD.replace("continue", "contniue").replace("Rescue", "Rescue"))
    assert not d.material and d.reason == "spelling only"


def test_flip_back_to_an_earlier_version_is_minor() -> None:
    v2 = OLD.replace("Tuesday", "Wednesday morning, when Prime Minister Anwar Ibrahim visited,")
    assert compare(OLD, v2).material
    assert compare(v2, OLD, history=[OLD]).reason == "flip back to an earlier version"
    assert not compare(v2, OLD, history=[OLD]).material


def test_blank_and_error_pages_are_minor() -> None:
    assert compare(OLD, "  \n ").reason == "blank page"
    assert compare(OLD, "404 Not Found. The page you requested could not be found.").reason == "error page"
    assert not compare(OLD, "Service Unavailable").material


def test_truncated_extraction_is_minor() -> None:
    cut = OLD[: len(OLD) // 3]
    d = compare(OLD, cut)
    assert not d.material and d.reason == "truncated text"


def test_added_sentence_with_new_facts_is_material() -> None:
    new = OLD.replace(
        "through the night,", "through the night, and the army has sent two Hercules aircraft with medical teams,"
    )
    new += "\nA second tremor of magnitude 5.2 hit Kelantan province on Wednesday."
    d = compare(OLD, new)
    assert d.material and d.significance > 0.5 and d.counts["added"] >= 1 and d.counts["changed"] >= 1


def test_headline_change_reported() -> None:
    d = compare(OLD, OLD, old_title="Quake kills 14", new_title="Quake kills 31 in Kelantan")
    assert d.headline_changed and "headline changed" in d.summary


def test_sentence_alignment_keeps_unchanged_sentences_out() -> None:
    old = "First sentence stays. Second one is edited here. Third stays too."
    new = "First sentence stays. Second one was edited here today. Third stays too. A fourth arrives."
    ops = [(c.op, c.before, c.after) for c in align(old, new)]
    assert ops == [
        ("changed", "Second one is edited here.", "Second one was edited here today."),
        ("added", "", "A fourth arrives."),
    ]
    changed = align(old, new)[0]
    assert old[changed.span[0] : changed.span[1]] == "Second one is edited here."


def test_word_diff_marks_only_changed_words() -> None:
    runs = word_diff("Officials said 14 died.", "Officials said 31 died.")
    assert ("delete", "14 ") in runs and ("insert", "31 ") in runs
    assert "".join(t for op, t in runs if op != "insert") == "Officials said 14 died."


def test_information_grows_with_new_content() -> None:
    small = information(OLD, OLD.replace("strong", "powerful"))
    large = information(OLD, OLD + " The Red Crescent has appealed for 4 million dollars for shelters in Kelantan.")
    assert 0 < small < large


def test_minor_reason_empty_for_real_edit() -> None:
    assert minor_reason(OLD, OLD.replace("Tuesday", "Sunday night")) == ""


def test_renderers_escape_and_mark() -> None:
    old, new = "The <b>mayor</b> said 3 died.", "The <b>mayor</b> said 5 died & 2 are missing."
    d = compare(old, new)
    html = diff_html(d)
    assert "<b>" not in html and "&lt;b&gt;" in html and "&amp;" in html
    assert "said <del>3 died</del><ins>5 died &amp; 2 are missing</ins>." in html
    md = diff_markdown(d)
    assert "- The <b>mayor</b> said 3 died." in md and "+ The <b>mayor</b> said 5 died & 2 are missing." in md
    js = diff_json(d)
    assert js["changes"] == [{"op": "changed", "before": old, "after": new}]
    assert json.loads(render_diff(old, new))["material"] == js["material"]
    assert 0.0 <= js["significance"] <= 1.0


def test_numbers_compared_by_value_and_variants_as_the_same_word() -> None:
    old = "The curfew starts at 06:00 and ten people were hurt. It hit the TV-Series set at 9 a.m. on Monday."
    new = "The curfew starts at 0600 and 10 people were hurt. It hit the TV Series set at 9 am on Monday."
    assert information(old, new) < 1.0 and not compare(old, new).material
    # a figure replaced by another is material on its own
    assert compare(old, old.replace("ten people", "twelve people")).material


def test_rewording_counts_less_than_new_content() -> None:
    old = "The minister said the plan was a failure. Talks continue."
    reworded = "The minister called the plan a fiasco. Talks continue."
    added = "The minister said the plan was a failure. Talks continue. Parliament will vote on Friday."
    assert information(old, reworded) < information(old, added)
    assert compare(old, added).material
