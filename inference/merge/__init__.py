"""Merge suggestions: condense a raw inventory of work items into proposed duties for people to review."""

from inference.merge.items import RawItem, read_items
from inference.merge.output import write_merge
from inference.merge.pipeline import DEFAULT_GRANULARITY, merge_items, threshold_for
from inference.merge.result import VERDICTS, MergeGroup, MergeMember, MergeResult

__all__ = [
    "RawItem",
    "MergeMember",
    "MergeGroup",
    "MergeResult",
    "merge_items",
    "read_items",
    "write_merge",
    "DEFAULT_GRANULARITY",
    "threshold_for",
    "VERDICTS",
]
