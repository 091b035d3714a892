"""Bulk classification of hotline exports: streaming, resumable, reported, fast, local or on Ray."""

from inference.bulk.options import BulkOptions, BulkProgress, BulkResult
from inference.bulk.runner import run_bulk

__all__ = ["BulkOptions", "BulkProgress", "BulkResult", "run_bulk"]
