"""Unit tests of the relevance scorer (pure: no servers, no network)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from monitor.models import Document, Judgment, Seed
from monitor.score import build_scorer, clean_seed_text
from monitor.score.text import quick_tokens

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).resolve().parent / "fixtures" / "pages"
# Five Google Stadia pages of scrapinghub/article-extraction-benchmark (see ATTRIBUTION.md)
STADIA_SEEDS = ("680c2848", "8267acac", "aade2ec8")
STADIA_HELD_OUT = "e100c961"


def _bodies() -> list[dict[str, str]]:
    with gzip.open(FIX / "bodies.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _seeds() -> list[Seed]:
    return [
        Seed(name=p.name, text=clean_seed_text(p.read_text(encoding="utf-8")))
        for p in sorted((ROOT / "seeds").glob("*.txt"))
    ]


def _doc(text: str, title: str = "", id: str = "d") -> Document:
    return Document(id=id, title=title, text=text)


@pytest.fixture(scope="module")
def seeds() -> list[Seed]:
    return _seeds()


@pytest.fixture(scope="module")
def bodies() -> list[dict[str, str]]:
    return _bodies()


# ---- clean_seed_text -----------------------------------------------------------------------


def test_clean_seed_text_drops_chrome_keeps_story() -> None:
    raw = "\n".join(
        [
            "Monday, December 11, 2023",
            "HomeWorld NewsPolitics",
            "The Corner",
            "Ministers agree a new treaty on river water sharing after long talks",
            "",
            "The two governments signed the accord on Tuesday, ending a dispute that lasted a decade.",
            "Officials said the agreement covers dams, irrigation and flood warnings along the river.",
            "Total",
            "0",
            "Shares",
            "Related Posts",
            "Join us as a valued contributor to our community, where your voice matters.",
            "Lost Password?",
            "Exit mobile version",
            "https://example.com/share?id=1",
        ]
    )
    out = clean_seed_text(raw)
    for chrome in (
        "Monday, December",
        "HomeWorld",
        "The Corner",
        "Total",
        "Shares",
        "Related Posts",
        "Join us",
        "Lost Password",
        "Exit mobile",
        "example.com",
    ):
        assert chrome not in out
    assert "Ministers agree a new treaty" in out
    assert "signed the accord on Tuesday" in out
    assert "flood warnings" in out
    assert "\n0\n" not in out


def test_clean_seed_text_on_real_seed(seeds: list[Seed]) -> None:
    raw = (ROOT / "seeds" / "004_41e4fd61abdfe968.txt").read_text(encoding="utf-8")
    out = clean_seed_text(raw)
    assert "Lost Password?" not in out
    assert "Feel the passion" not in out
    assert "Monday, December 11, 2023" not in out
    assert "US presses Burma to cease military ties with North Korea" in out


# ---- behaviour -----------------------------------------------------------------------------


def test_score_fields_and_range(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    assert 0.0 < sc.threshold < 1.0
    s = sc.score(
        _doc(
            "Russia pledged weapons and military instructors to Mali's junta during "
            "talks in Bamako on defence cooperation.",
            title="Russia and Mali deepen military ties",
        )
    )
    assert 0.0 <= s.value <= 1.0
    assert s.match and s.value >= sc.threshold
    assert s.nearest_seed in {x.name for x in seeds}
    assert len(s.facets) == 2 and s.terms and s.sentence
    off = sc.score(
        _doc("The city council approved a new budget for parks and libraries.", title="Council passes budget")
    )
    assert not off.match and off.value < s.value


def test_one_place_decides_nothing(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    single = sc.score(
        _doc(
            "North Korea fired a ballistic missile into the sea on Sunday, officials said.",
            title="North Korea fires missile",
        )
    )
    both = sc.score(
        _doc(
            "North Korea agreed to sell artillery to Mali's military government, officials said.",
            title="North Korea and Mali in arms deal",
        )
    )
    assert not single.match
    assert both.match


def test_deterministic(seeds: list[Seed], bodies: list[dict[str, str]]) -> None:
    a, b = build_scorer(seeds), build_scorer(seeds)
    assert a.threshold == b.threshold
    for item in bodies[:40]:
        d = _doc(item["articleBody"], id=item["key"])
        assert a.score(d) == b.score(d)


def test_feedback_changes_later_scores(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    probe = _doc(
        "Burkina Faso's junta received a shipment of Russian grain and fertiliser at the port, officials said.",
        title="Russia ships grain to Burkina Faso",
    )
    before = sc.score(probe)
    for i in range(3):
        sc.learn(
            _doc(
                f"Russia sent wheat and fertiliser to Burkina Faso as food aid, batch {i}.",
                title="Russian grain aid for Burkina Faso",
                id=f"j{i}",
            ),
            False,
        )
    after = sc.score(probe)
    assert after.value < before.value
    # and judgments given at build time act the same way
    sc2 = build_scorer(
        seeds,
        [
            Judgment(
                _doc(
                    f"Russia sent wheat and fertiliser to Burkina Faso as food aid, batch {i}.",
                    title="Russian grain aid for Burkina Faso",
                    id=f"j{i}",
                ),
                False,
            )
            for i in range(3)
        ],
    )
    assert sc2.score(probe).value == pytest.approx(after.value)
    assert sc2.threshold == pytest.approx(sc.threshold)


def test_positive_feedback_raises_similar(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    probe = _doc(
        "Wagner mercenaries were seen at the airport in Bangui, the Central African "
        "Republic, guarding the presidential palace.",
        title="Wagner in Bangui",
    )
    before = sc.score(probe).value
    sc.learn(
        _doc(
            "Wagner mercenaries guard gold mines in the Central African Republic.",
            title="Wagner fighters in CAR",
            id="p1",
        ),
        True,
    )
    assert sc.score(probe).value > before


def test_length_does_not_decide(seeds: list[Seed], bodies: list[dict[str, str]]) -> None:
    sc = build_scorer(seeds)
    title = "Russia to train and arm Niger's army under new defence pact"
    summary = (
        "Russian military instructors will train soldiers in Niger and deliver weapons "
        "under a defence cooperation agreement signed with the junta in Niamey."
    )
    short = sc.score(_doc(summary, title=title))
    # the same story as the lead of a 3,000-word page padded with unrelated article text
    pad = " ".join(b["articleBody"] for b in bodies if "stadia" in b["url"])
    words = pad.split()[:3000]
    long = sc.score(_doc(summary + "\n\n" + " ".join(words), title=title))
    assert short.match and long.match
    # the relation is read in windows, so the padded page still matches; the lexical similarity
    # is the whole document's, so 3,000 unrelated words may lower the score, never raise it
    assert long.value <= short.value
    # and unrelated long text with one stray place name does not match
    stray = sc.score(_doc(" ".join(words) + " The studio also has an office in Moscow."))
    assert not stray.match


# ---- threshold from the seeds ----------------------------------------------------------------


def test_swapped_topic_threshold_separates(bodies: list[dict[str, str]]) -> None:
    """Seeds of another topic (three Google Stadia pages): the derived threshold lets the
    held-out Stadia article through and keeps every other corpus page out."""
    by_key = {b["key"][:8]: b for b in bodies}
    gt = json.loads((FIX / "ground-truth.json").read_text(encoding="utf-8"))
    assert all(any(k.startswith(p) for k in gt) for p in STADIA_SEEDS + (STADIA_HELD_OUT,))
    seeds = [Seed(name=k, text=by_key[k]["articleBody"]) for k in STADIA_SEEDS]
    sc = build_scorer(seeds)
    held = sc.score(_doc(by_key[STADIA_HELD_OUT]["articleBody"]))
    assert held.match, (held.value, sc.threshold)
    others = [b for b in bodies if "stadia" not in b["url"].lower()]
    assert len(others) >= 170
    false = [b["url"] for b in others if sc.score(_doc(b["articleBody"])).match]
    assert false == []


@pytest.mark.parametrize("held_out", range(5))
def test_leave_one_seed_out_on_real_pages(seeds: list[Seed], bodies: list[dict[str, str]], held_out: int) -> None:
    """Four seeds in, the fifth seed's text must match and < 5 % of 181 unrelated pages."""
    rest = [s for i, s in enumerate(seeds) if i != held_out]
    sc = build_scorer(rest)
    assert sc.score(_doc(seeds[held_out].text)).match
    matches = sum(sc.score(_doc(b["articleBody"])).match for b in bodies)
    assert matches < 0.05 * len(bodies)


def test_multi_word_place_found_when_second_word_is_not_a_theme_term(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    s = sc.score(_doc("Analysts weighed the speech.", title="Kim's threats put North Korea on wrong side of history"))
    assert any("North Korea" in f for f in s.facets), s.facets


def test_title_off_subject_lowers_side_story(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    body = (
        "Markets rallied on Monday after a week of losses. "
        "Russia pledged weapons and military instructors to Mali's junta during talks in Bamako."
    )
    side = sc.score(_doc(body, title="Your Monday Briefing: Markets Rally After a Week of Losses"))
    main = sc.score(_doc(body, title="Russia to arm Mali's junta"))
    dated = sc.score(_doc(body, title="Monday, December 11, 2023"))  # chrome title: no penalty
    assert side.value < main.value
    assert side.value < dated.value


def test_title_naming_one_side_ranks_between(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    body = "Russia pledged weapons and military instructors to Mali's junta during talks in Bamako."
    both = sc.score(_doc(body, title="Russia to arm Mali's junta")).value
    one = sc.score(_doc(body, title="Mali's junta gets new weapons")).value
    none = sc.score(_doc(body, title="Weekly round-up of world news")).value
    assert both > one > none


def test_relation_inside_one_facet_gets_partial_credit(seeds: list[Seed]) -> None:
    # the seeds pair Sahel/Burma with North Korea/Russia; two partners of one side dealing
    # militarily with each other is adjacent coverage: above a one-place item, below the relation
    sc = build_scorer(seeds)
    partners = sc.score(
        _doc(
            "North Korea shipped artillery shells and missiles to Russia, deepening military cooperation "
            "between the two allies, officials said.",
            title="North Korea sends weapons to Russia",
        )
    )
    single = sc.score(_doc("North Korea fired a ballistic missile into the sea on Sunday.", title="North Korea fires"))
    core = sc.score(
        _doc(
            "North Korea agreed to sell artillery to Mali's military government, deepening security cooperation.",
            title="North Korea and Mali in arms deal",
        )
    )
    unrelated_pair = sc.score(
        _doc("North Korea and Russia played a friendly football match in Moscow.", title="North Korea, Russia draw")
    )
    assert single.value < partners.value < core.value
    assert unrelated_pair.value < partners.value  # the credit needs the seeds' relation terms
    assert not partners.match or partners.value < core.value


def test_empty_document_scores_zero(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    for title, text in [("", ""), ("  ", "\n"), ("", "...")]:
        s = sc.score(_doc(text, title=title))
        assert s.value == 0.0 and not s.match


def test_explanation_terms_are_words_not_internal_codes(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    s = sc.score(_doc("Mali and Russia sign a military pact.", title="Mali, Russia sign pact"))
    assert s.terms and all(t[:1] not in "=#" for t in s.terms), s.terms


def test_nearest_judged_documents_vote(seeds: list[Seed]) -> None:
    # a judged irrelevant story pulls down a near-duplicate of it, not an unrelated matching one
    sc = build_scorer(seeds)
    oil = _doc(
        "Myanmar will import Russian oil and fuel, the military government said.", title="Myanmar to import Russian oil"
    )
    arms = _doc(
        "Russia delivered fighter jets and helicopters to Myanmar's military, deepening defence ties.",
        title="Russia delivers fighter jets to Myanmar",
    )
    before_oil, before_arms = sc.score(oil).value, sc.score(arms).value
    sc.learn(
        _doc(
            "Myanmar's junta agreed to buy Russian oil and diesel fuel, state media said.",
            title="Myanmar junta buys Russian oil",
            id="judged-oil",
        ),
        False,
    )
    drop_oil = before_oil - sc.score(oil).value
    drop_arms = before_arms - sc.score(arms).value
    assert drop_oil > 0
    assert drop_oil > drop_arms


def test_explanation_comes_from_the_winning_window(seeds: list[Seed]) -> None:
    # a titled page whose opening names one facet and whose relation is stated much later: the
    # sentence and the facets shown are those of the window that decided the score
    filler = " ".join(f"Paragraph {k} is about the weather and the local football results." for k in range(12))
    text = (
        "Officials in Moscow discussed the budget with Sergei Ivanov at length. "
        + filler
        + " Mali's junta signed a military cooperation agreement with Russia, and Wagner fighters arrived in Bamako."
    )
    s = build_scorer(seeds).score(_doc(text, title="A long report"))
    assert "Mali" in s.sentence and "Wagner" in s.sentence, s.sentence
    assert not any("Sergei" in f or "Ivanov" in f for f in s.facets), s.facets


def test_skipping_places_that_cannot_matter_changes_no_score(seeds: list[Seed], bodies: list[dict[str, str]]) -> None:
    # the reader leaves places unread in documents naming no facet place (and no seed party or
    # attached name); a reader that reads every place must give the same scores
    from monitor.score.relation import _Lexicon

    fast = build_scorer(seeds)
    full = build_scorer(seeds)
    # relevant=None: every place read everywhere, in the relation model (the only place reader)
    full.relation._lex = _Lexicon.of(fast.relation._lex.vocab)
    docs = [_doc(b["articleBody"], title=b.get("headline", ""), id=str(i)) for i, b in enumerate(bodies)]
    docs += [
        _doc("New Zealand and the U.S. signed a trade deal. France said the Gambia and Chad agreed.", title="Deal"),
        _doc("Russia and Mali signed an arms deal in Bamako. Officials in Paris said nothing.", title="Arms"),
        _doc("South Africa and the African Union met in Addis Ababa about Sudan.", title="Summit"),
        # a vocabulary word ("new") inside a place's name that matters to no facet
        _doc("New Zealand lawmakers passed a security law. Officials in New Delhi met Canada.", title="Law"),
    ]
    skipped = 0
    for d in docs:
        a, b = fast.score(d), full.score(d)
        assert a == b, d.id
        skipped += fast.relation._lex.focus.isdisjoint(quick_tokens(d.title + " " + d.text))
    assert skipped >= 10  # the skipping path was taken


# ---- topics of other shapes (written for the test; the corpus pages are the distractors) ----------

ONE_COUNTRY_SEEDS = [
    (
        "Peru's Congress votes to remove President Vizcarra in impeachment trial",
        "Peru's Congress voted on Monday to remove President Martin Vizcarra from office over bribery "
        "allegations, plunging the country into a political crisis. Lawmakers voted 105 to 19 to declare "
        "the presidency vacant for 'permanent moral incapacity'. Protesters gathered outside Congress in Lima.",
    ),
    (
        "Protests spread in Lima as interim president Merino is sworn in",
        "Thousands of Peruvians marched in Lima against Manuel Merino, the head of Congress who was sworn in "
        "as interim president after the impeachment of Martin Vizcarra. Police fired tear gas; human rights "
        "groups said several protesters were injured. Regional governors called the vote a parliamentary coup.",
    ),
    (
        "Peru's interim president Merino resigns after deadly protests",
        "Manuel Merino resigned as Peru's interim president five days after taking office, following protests "
        "in which two young men were killed by police. Congress must now choose a new leader, the third "
        "president in a week, deepening the crisis that began with Vizcarra's removal.",
    ),
    (
        "Peru's Congress picks Francisco Sagasti as president to end crisis",
        "Peru's Congress elected centrist lawmaker Francisco Sagasti as head of Congress, making him the "
        "country's interim president until elections in April. Sagasti promised to restore calm after the "
        "impeachment of Vizcarra and the resignation of Merino amid mass protests in Lima.",
    ),
]

HEADLINE_SEEDS = [
    "Cholera outbreak spreads in Haiti as cases rise in Port-au-Prince",
    "Haiti cholera deaths climb as clinics run short of oral rehydration salts",
    "WHO ships cholera vaccines to Haiti to contain outbreak",
    "Cholera cases found in Haitian prison, health ministry says",
    "Aid groups warn Haiti cholera outbreak could overwhelm hospitals",
]


PRODUCT_SEEDS = [
    (
        "Nintendo unveils the Switch 2, its first new console in eight years",
        "Nintendo revealed the Switch 2 on Wednesday, a larger hybrid console with a 7.9-inch screen, "
        "magnetic Joy-Con controllers that can work as a mouse, and a new chat button. The company said "
        "the console will go on sale on June 5 and that Mario Kart World will launch alongside it.",
    ),
    (
        "Switch 2 priced at $449 as Nintendo opens pre-orders",
        "Nintendo set the price of the Switch 2 at $449.99, or $499.99 in a bundle with Mario Kart World. "
        "Pre-orders in the United States were delayed by two weeks while the company assessed the impact "
        "of tariffs, and retailers warned that stock at launch would be limited.",
    ),
    (
        "Switch 2 review: a bigger, faster Switch",
        "The Switch 2 keeps the idea of the original console, a tablet that docks to a television, but "
        "adds a 1080p screen at up to 120 Hz, 256 GB of storage and enough power to run games in 4K on a "
        "television. Battery life is shorter than on the first Switch, between two and six hours.",
    ),
    (
        "Nintendo sells 3.5 million Switch 2 consoles in four days",
        "Nintendo said the Switch 2 sold more than 3.5 million units in its first four days, the fastest "
        "launch of any console the company has made. Demand for Mario Kart World and the new Joy-Con "
        "controllers outstripped supply in several countries.",
    ),
    (
        "Game makers line up behind Nintendo's Switch 2",
        "Publishers including EA, Ubisoft and CD Projekt announced Switch 2 versions of their games, "
        "saying the console's extra power lets them bring titles that never ran on the original Switch. "
        "Game-key cards, which carry a download code rather than the game itself, drew complaints.",
    ),
]


def test_product_topic(bodies: list[dict[str, str]]) -> None:
    """Seeds about one product's launch: more coverage of that product matches, a rival product and
    unrelated pages do not."""
    seeds = [Seed(name=f"p{i}.txt", text=f"{t}\n\n{b}") for i, (t, b) in enumerate(PRODUCT_SEEDS)]
    sc = build_scorer(seeds)
    on_topic = sc.score(
        _doc(
            "Nintendo released a system update for the Switch 2 that fixes a battery drain in sleep mode "
            "and improves the new Joy-Con controllers' mouse mode. The console has sold more than "
            "ten million units since its June launch.",
            title="Switch 2 update fixes battery drain and improves Joy-Con mouse controls",
        )
    )
    assert on_topic.match, on_topic
    rival = sc.score(
        _doc(
            "Sony cut the price of the PlayStation 5 Pro by $50 in Europe ahead of the holiday season, "
            "and said sales of its virtual reality headset had slowed.",
            title="Sony cuts PS5 Pro price in Europe",
        )
    )
    assert not rival.match, rival
    assert rival.value < on_topic.value
    assert _unrelated_matches(sc, bodies) < 0.05 * len(bodies)


def _unrelated_matches(sc: object, bodies: list[dict[str, str]]) -> int:
    return sum(sc.score(_doc(b["articleBody"], title=b.get("headline", ""))).match for b in bodies)  # type: ignore[attr-defined]


def test_one_country_topic_falls_back_to_similarity(bodies: list[dict[str, str]]) -> None:
    """Seeds about one country's internal crisis show no relation between two sides: the scorer
    must not force one, and plain similarity to the seeds decides."""
    seeds = [Seed(name=f"s{i}.txt", text=f"{t}\n\n{b}") for i, (t, b) in enumerate(ONE_COUNTRY_SEEDS)]
    sc = build_scorer(seeds)
    assert sc.breadth == 0.0
    on_topic = sc.score(
        _doc(
            "Francisco Sagasti took office as Peru's interim president on Tuesday, the third in a week, "
            "after Congress ousted Vizcarra and Merino resigned amid protests in Lima.",
            title="Sagasti sworn in as Peru's president after week of turmoil",
        )
    )
    assert on_topic.match, on_topic
    other_country = sc.score(
        _doc(
            "Thailand's parliament rejected a motion to amend the constitution as student protesters "
            "gathered in Bangkok for a fourth week.",
            title="Thai lawmakers reject charter change",
        )
    )
    assert not other_country.match
    assert other_country.value < on_topic.value
    assert _unrelated_matches(sc, bodies) < 0.05 * len(bodies)


def test_headline_only_seeds(bodies: list[dict[str, str]]) -> None:
    """Five headlines are a valid seed set: a story on the topic matches, unrelated pages do not."""
    sc = build_scorer([Seed(name=f"h{i}.txt", text=h) for i, h in enumerate(HEADLINE_SEEDS)])
    story = sc.score(
        _doc(
            "Health officials in Haiti reported 40 new cholera deaths this week as the outbreak reached "
            "the north of the country. Clinics in Port-au-Prince are treating hundreds of patients a day.",
            title="Haiti cholera outbreak reaches the north",
        )
    )
    assert story.match, story
    assert story.nearest_seed.startswith("h")
    off = sc.score(_doc("The central bank raised interest rates by half a point.", title="Rates rise again"))
    assert not off.match
    assert _unrelated_matches(sc, bodies) < 0.05 * len(bodies)


def test_every_match_is_explained(seeds: list[Seed]) -> None:
    sc = build_scorer(seeds)
    s = sc.score(_doc("Russia will deliver arms to Burkina Faso's junta.", title="Russia arms Burkina Faso"))
    assert s.match and s.nearest_seed and s.carried and s.sentence
    assert "carried by" in s.explanation()
