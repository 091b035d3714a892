"""merge_items: raw inventory in, proposed duties out."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from time import perf_counter

import numpy as np

from inference.matcher import Matcher
from inference.merge.cluster import average_link
from inference.merge.graph import candidate_edges
from inference.merge.items import RawItem
from inference.merge.naming import NameEvidence, distinguishing_word, gather_evidence, propose_name
from inference.merge.result import (
    VERDICT_EXISTING,
    VERDICT_NEW,
    VERDICT_RECLAIMED,
    VERDICT_ZOMBIE,
    MergeGroup,
    MergeMember,
    MergeResult,
)
from inference.merge.space import ItemSpace, SimilarityWeights, build_space
from models.static_embedder import StaticQueryEncoder

DEFAULT_GRANULARITY = 0.5
NEIGHBOURS = 16
TARGET_FLOOR = 0.05  # with a target group count, still never merge below this average similarity
NEAREST_AT_LEAST = 0.15  # confidence-weighted share one entry must hold for the group to "be" that entry
MAX_BLOCK_ROWS = 3000  # member similarity of huge groups is taken against an evenly spaced sample
ITEM_VECTORS = ("static", "transformer")


def threshold_for(granularity: float) -> float:
    """Average similarity a merge must reach: 0 (coarse) -> 0.05, 0.5 -> 0.15, 1 (fine) -> 0.35.

    The default point was chosen on bench/data/merge_dev_*.csv, never on the labelled gold set.
    """
    g = min(max(float(granularity), 0.0), 1.0)
    return 0.05 + 0.10 * g + 0.20 * g * g


def merge_items(
    items: list[RawItem],
    matcher: Matcher,
    granularity: float = DEFAULT_GRANULARITY,
    target_groups: int | None = None,
    weights: SimilarityWeights | None = None,
    item_vectors: str = "static",
    static: StaticQueryEncoder | None = None,
) -> MergeResult:
    """Group related items and propose a duty for each group; singletons stay singletons.

    granularity: 0 coarse .. 1 fine. target_groups: merge until about that many groups remain instead (never
    merging unrelated items to get there). Same input, same output.
    item_vectors: "static" (default) embeds items with the static token vectors distilled from the matcher's
    model, "transformer" with the model itself. Raw items are short phrases, where word order and context add
    little: on the development set static vectors group better (pairwise F1 0.633 vs 0.618) and encode a county's
    inventory in seconds instead of minutes. A lexical-only matcher (--fast) uses neither.
    static: those static vectors, from the caller (training.distill.ensure_static_encoder distils them at first
    use); required for item_vectors="static" unless the matcher is lexical-only.
    """
    if target_groups is not None and target_groups < 1:
        raise ValueError("目标组数必须是正整数")
    if item_vectors not in ITEM_VECTORS:
        raise ValueError(f"item_vectors 只能是 {'、'.join(ITEM_VECTORS)}")
    catalog = matcher.catalog
    result = MergeResult(
        [],
        granularity,
        catalog.version,
        catalog.name,
        n_items=len(items),
        target_groups=target_groups,
        item_vectors=item_vectors if matcher.embedder is not None else "lexical",
    )
    if not items:
        return result
    query_encoder: Callable[..., np.ndarray] | None = None
    if item_vectors == "static" and matcher.embedder is not None:
        if static is None:
            raise ValueError("按静态词元向量归并需要 static（training.distill.ensure_static_encoder 首次使用时蒸馏）")
        query_encoder = static.encode
    timings = result.timings
    started = perf_counter()
    space, row_of_item = build_space([it.text for it in items], matcher, weights, timings, query_encoder)
    result.n_distinct = len(space)

    t0 = perf_counter()
    threshold = threshold_for(granularity) if target_groups is None else TARGET_FLOOR
    result.threshold = threshold
    edges = candidate_edges(space, NEIGHBOURS, min_sim=threshold / 2)
    timings["neighbours"] = perf_counter() - t0

    t0 = perf_counter()
    labels = average_link(len(space), edges, space.multiplicity, space.block, threshold, target_groups)
    timings["cluster"] = perf_counter() - t0

    t0 = perf_counter()
    evidence = gather_evidence(space.cleaned, space.hits, matcher.segmenter)
    result.groups = _describe_groups(items, row_of_item, labels, space, evidence, matcher)
    timings["describe"] = perf_counter() - t0
    timings["total"] = perf_counter() - started
    return result


def _describe_groups(
    items: list[RawItem],
    row_of_item: np.ndarray,
    labels: np.ndarray,
    space: ItemSpace,
    evidence: NameEvidence,
    matcher: Matcher,
) -> list[MergeGroup]:
    items_by_label: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(row_of_item):
        items_by_label[int(labels[row])].append(i)
    # Biggest groups first (what a reviewer wants to settle first), then by where they start in the input.
    order = sorted(items_by_label.values(), key=lambda idx: (-len(idx), idx[0]))
    width = max(3, len(str(len(order))))
    groups: list[MergeGroup] = []
    for number, item_idx in enumerate(order, start=1):
        rows, counts = _rows_and_counts(item_idx, row_of_item)
        member_sim, cohesion = _member_similarity(space, rows, counts)
        sim_of_row = dict(zip(rows, member_sim))
        entry, score, verdict = _place_in_catalog(space, rows, counts, matcher)
        name = propose_name(rows, counts, evidence, matcher.lexicon, matcher.segmenter, fallback=space.cleaned[rows[0]])
        members = []
        for i in item_idx:
            m = space.matches[int(row_of_item[i])]
            best = m.best.entry if m.best is not None and not m.flags.out_of_list else None
            members.append(
                MergeMember(
                    items[i],
                    float(sim_of_row[int(row_of_item[i])]),
                    best,
                    float(m.confidence) if best is not None else 0.0,
                )
            )
        groups.append(MergeGroup(f"G{number:0{width}d}", name, members, cohesion, entry, score, verdict))
    _disambiguate_names(groups, order, row_of_item, evidence)
    return groups


def _rows_and_counts(item_idx: list[int], row_of_item: np.ndarray) -> tuple[list[int], list[float]]:
    """Distinct texts of a group in first-seen order, and how many of its items share each."""
    counts = Counter(int(row_of_item[i]) for i in item_idx)
    return list(counts), [float(c) for c in counts.values()]


def _member_similarity(space: ItemSpace, rows: list[int], counts: list[float]) -> tuple[np.ndarray, float]:
    """Each distinct text's mean similarity to the group's other items (identical wording counts as 1.0)."""
    total = sum(counts)
    if total <= 1:
        return np.ones(len(rows)), 1.0
    idx = np.asarray(rows, dtype=np.int64)
    w = np.asarray(counts, dtype=np.float64)
    if len(idx) > MAX_BLOCK_ROWS:
        # A huge group is compared with an evenly spaced sample of itself, scaled up: well under 1% off.
        pick = np.linspace(0, len(idx) - 1, MAX_BLOCK_ROWS).round().astype(np.int64)
        sims = space.block(idx, idx[pick]).astype(np.float64)
        to_others = (sims @ w[pick]) * (w.sum() / w[pick].sum())
    else:
        sims = space.block(idx, idx).astype(np.float64)
        np.fill_diagonal(sims, 0.0)
        to_others = sims @ w + (w - 1.0)
    per_row = np.clip(to_others / (total - 1.0), 0.0, 1.0)
    cohesion = float((per_row * w).sum() / total)
    return per_row, cohesion


def _place_in_catalog(space: ItemSpace, rows: list[int], counts: list[float], matcher: Matcher):
    """(nearest entry, share of the group the matcher files under it with confidence, verdict).

    Each member votes for its own best entry with its match confidence; a member the matcher puts outside the
    list votes for nothing. A group mostly outside the list, or with no entry holding a real share, is new.
    """
    votes: dict[int, float] = defaultdict(float)
    total = sum(counts)
    outside = sum(w for r, w in zip(rows, counts) if space.matches[r].flags.out_of_list)
    pos_of = {e.id: p for p, e in enumerate(matcher.catalog.entries)}
    for r, w in zip(rows, counts):
        m = space.matches[r]
        if m.best is not None and not m.flags.out_of_list:
            votes[pos_of[m.best.entry.id]] += w * float(m.confidence)
    if not votes:
        return None, 0.0, VERDICT_NEW
    pos = max(votes, key=lambda p: (round(votes[p], 9), -p))
    entry = matcher.catalog.entries[pos]
    score = votes[pos] / total
    if score < NEAREST_AT_LEAST or outside / total >= 0.5:
        return entry, score, VERDICT_NEW
    if entry.is_zombie:
        return entry, score, VERDICT_ZOMBIE
    if entry.is_reclaimed:
        return entry, score, VERDICT_RECLAIMED
    return entry, score, VERDICT_EXISTING


def _disambiguate_names(
    groups: list[MergeGroup], order: list[list[int]], row_of_item: np.ndarray, evidence: NameEvidence
) -> None:
    by_name: dict[str, list[int]] = defaultdict(list)
    for k, g in enumerate(groups):
        by_name[g.proposed_name].append(k)
    for name, ks in by_name.items():
        if len(ks) < 2:
            continue
        used: set[str] = set()
        for k in ks:
            rows, counts = _rows_and_counts(order[k], row_of_item)
            word = distinguishing_word(rows, counts, evidence, name)
            label = word if word and word not in used else f"{len(used) + 1}"
            used.add(label)
            groups[k].proposed_name = f"{name}（{label}）"
