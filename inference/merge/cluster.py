"""Average-link agglomeration on a sparse candidate graph, checked against the exact average before each merge.

The graph only says which clusters may merge and gives a first estimate of their average similarity (over the
pairs it holds). Before a merge is made, the exact average over all member pairs is computed and the pair is
re-queued with it, so a chain of look-alikes cannot glue two unrelated clusters together. Ties break on the
smallest member index, so the same input always gives the same clusters.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inference.merge.graph import Edges

MAX_EXACT_PAIRS = 1_000_000  # above this the exact check uses an evenly spaced sample of members


@dataclass
class _Cluster:
    members: list[int]
    mass: float  # items, counting duplicates folded into one text
    first: int  # smallest member index: the deterministic tie-breaker
    links: dict[int, list[float]]  # other cluster -> [sum of w*w'*sim, sum of w*w', pairs] over graph pairs


def _spread(members: list[int], limit: int) -> np.ndarray:
    arr = np.asarray(members, dtype=np.int64)
    if len(arr) <= limit:
        return arr
    return arr[np.linspace(0, len(arr) - 1, limit).round().astype(np.int64)]


def average_link(
    n: int,
    edges: Edges,
    weight: np.ndarray,
    block: Callable[[np.ndarray, np.ndarray], np.ndarray],
    threshold: float,
    target_groups: int | None = None,
) -> np.ndarray:
    """Cluster label per node (0..k-1, numbered by smallest member). Merges continue while the exact average
    similarity of the best pair is at least `threshold`, or, with `target_groups`, until that many clusters are
    left (never merging below `threshold`, which the caller then sets as a floor)."""
    clusters: dict[int, _Cluster] = {i: _Cluster([i], float(weight[i]), i, {}) for i in range(n)}
    for a, b, s in zip(edges.a.tolist(), edges.b.tolist(), edges.sim.tolist()):
        w = float(weight[a] * weight[b])
        record = [w * s, w, 1]  # shared by both sides, so an update on one is seen by the other
        clusters[a].links[b] = record
        clusters[b].links[a] = record

    heap: list[tuple[float, int, int, int, int, bool]] = []

    def push(ca: int, cb: int, value: float, exact: bool) -> None:
        x, y = clusters[ca], clusters[cb]
        lo, hi = (ca, cb) if x.first < y.first else (cb, ca)
        heapq.heappush(heap, (-round(value, 6), clusters[lo].first, clusters[hi].first, lo, hi, exact))

    def known_exactly(x: _Cluster, y: _Cluster, pairs: float) -> bool:
        # When the graph holds every member pair, its average is already the exact one.
        return pairs >= len(x.members) * len(y.members)

    for cid, c in clusters.items():
        for other, (ws, w, _pairs) in c.links.items():
            if cid < other:
                push(cid, other, ws / w, True)

    def exact_average(x: _Cluster, y: _Cluster, record: list[float]) -> float:
        """Exact average over all member pairs; stored in the pair's record, so after later merges the sums
        still add up exactly (average linkage is a weighted sum) and need no recomputing."""
        limit = max(1, int(MAX_EXACT_PAIRS**0.5))
        ia, ib = _spread(x.members, limit), _spread(y.members, limit)
        wa, wb = weight[ia], weight[ib]
        average = float(wa @ block(ia, ib) @ wb / (wa.sum() * wb.sum()))
        record[1] = float(x.mass * y.mass)
        record[0] = average * record[1]
        record[2] = len(x.members) * len(y.members)
        return average

    alive = n
    next_id = n
    while heap and (target_groups is None or alive > target_groups):
        neg, _, _, ca, cb, exact = heapq.heappop(heap)
        if ca not in clusters or cb not in clusters:
            continue
        if -neg < threshold:
            break
        x, y = clusters[ca], clusters[cb]
        if not exact:
            push(ca, cb, exact_average(x, y, x.links[cb]), True)
            continue
        # Merge the smaller link table into the larger one: the dead clusters' tables are not needed again.
        big, small = (x, y) if len(x.links) >= len(y.links) else (y, x)
        links = big.links
        links.pop(ca, None)
        links.pop(cb, None)
        for other, (ws, w, pairs) in small.links.items():
            if other in (ca, cb):
                continue
            if other in links:
                links[other][0] += ws
                links[other][1] += w
                links[other][2] += pairs
            else:
                links[other] = [ws, w, pairs]
        merged = _Cluster(sorted(x.members + y.members), x.mass + y.mass, min(x.first, y.first), links)
        del clusters[ca], clusters[cb]
        cid = next_id
        next_id += 1
        clusters[cid] = merged
        alive -= 1
        for other, (ws, w, pairs) in links.items():
            o = clusters[other].links
            for dead in (ca, cb):
                o.pop(dead, None)
            o[cid] = links[other]  # one shared record: both sides always see the same sums
            push(cid, other, ws / w, known_exactly(merged, clusters[other], pairs))

    labels = np.empty(n, dtype=np.int64)
    for label, c in enumerate(sorted(clusters.values(), key=lambda c: c.first)):
        labels[c.members] = label
    return labels
