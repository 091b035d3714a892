"""The ticket training corpus and the dev list: sizes, the style mix, and that nothing is a near-copy of
evaluation text. No model is needed; every check reads the bundled files as shipped."""

from collections import Counter

import pytest

from corpus.catalogs import load_reference_catalog
from corpus.corpus_report import check_corpus
from corpus.datasets import DEV_TOWNSHIP, evaluation_texts
from corpus.near_copy import jaccard, near_copies
from corpus.schema import ListType
from corpus.styles import (
    COLLOQUIAL_VARIANTS,
    FRAGMENT,
    FRAGMENT_CHARS,
    LONG,
    LONG_CHARS,
    STYLE_FLOORS,
    STYLES,
    main_style,
    text_length,
)
from corpus.training_corpus import load_training_corpus
from inference.evaluate import load_labelled

SOURCES = {"工单", "工作记录", "他乡清单"}


@pytest.fixture(scope="module")
def corpus():
    return load_training_corpus()


@pytest.fixture(scope="module")
def checks(corpus, reference_catalog):
    return check_corpus(corpus, reference_catalog)


def test_every_item_is_labelled_with_a_reference_entry_and_a_known_style(corpus, reference_catalog):
    assert len({it.id for it in corpus}) == len(corpus)
    for it in corpus:
        assert not it.gold or reference_catalog.get(it.gold) is not None, it
        assert it.source in SOURCES, it
        style, _, variant = it.style.partition("-")
        assert style in STYLES and (not variant or (style == "口语" and variant in COLLOQUIAL_VARIANTS)), it
        if it.confusable_with:
            sibling, own = reference_catalog.get(it.confusable_with), reference_catalog.get(it.gold)
            assert sibling is not None and own is not None and sibling.category == own.category, it


def test_size_coverage_and_style_mix(corpus, checks):
    assert checks.items >= 6000
    assert checks.entries_covered == checks.entries_in_catalog  # 收回 entries included
    assert checks.fewest_per_entry >= 15
    assert checks.out_of_list >= 500
    for style, floor in STYLE_FLOORS.items():
        assert checks.style_shares[style] >= floor, (style, checks.style_shares[style])
    for it in corpus:
        if it.main_style == FRAGMENT:
            assert FRAGMENT_CHARS[0] <= text_length(it.text) <= FRAGMENT_CHARS[1], it
        if it.main_style == LONG:
            assert text_length(it.text) >= LONG_CHARS, it
    variants = Counter(it.style for it in corpus if it.main_style == "口语")
    assert all(variants[f"口语-{v}"] >= 200 for v in COLLOQUIAL_VARIANTS), variants


def test_every_entry_has_items_written_to_be_confused_with_a_sibling(checks):
    assert checks.fewest_marked_confusables >= 3
    assert checks.fewest_sibling_nearest >= 3


def test_corpus_items_are_not_near_copies_of_each_other(checks):
    assert checks.self_near_copy_share < 0.02


def test_no_corpus_item_is_a_near_copy_of_evaluation_text(checks):
    assert checks.evaluation_near_copies == []


def test_the_near_copy_check_finds_a_lightly_edited_evaluation_item():
    """The check above can fail: an evaluation ticket with a few characters changed is caught."""
    where, text = next((w, t) for w, t in evaluation_texts() if w.startswith("labelled") and len(t) > 40)
    edited = "市民来电：" + text[:-3] + "，请尽快。"
    assert jaccard(edited, text) >= 0.5
    assert [i for i, _, _ in near_copies([edited, "完全无关的一句话，讲的是天气很好"], [text])] == [0]


def test_dev_list_is_an_unseen_list_with_all_three_types_and_a_labelled_set():
    catalog = DEV_TOWNSHIP.load_catalog()
    reference = load_reference_catalog()
    assert len(catalog) >= 150
    assert {e.list_type for e in catalog.entries} == set(ListType)
    assert sum(e.is_zombie for e in catalog.entries) >= 3
    assert sum(e.bottom_line for e in catalog.entries) >= 20
    # another region's wording: most of its names are not the reference list's names
    assert len({e.name for e in catalog.entries} & {e.name for e in reference.entries}) < 0.3 * len(catalog)
    items = load_labelled(DEV_TOWNSHIP.items, DEV_TOWNSHIP.gold, catalog)  # refuses a gold id not in the list
    assert len(items) >= 250
    assert sum(1 for it in items if not it.gold) >= 25
    styles = Counter(main_style(it.extra["风格"]) for it in items)
    assert set(styles) == set(STYLES)
    assert styles["口语"] >= 0.4 * len(items) and styles[LONG] >= 0.15 * len(items)


def test_the_counts_in_the_corpus_readme_are_the_report_commands_output():
    from corpus.corpus_report import README_PATH, report_markdown, with_counts

    readme = README_PATH.read_text(encoding="utf-8")
    assert with_counts(readme, report_markdown()) == readme, "请运行 python -m corpus.corpus_report --readme"
