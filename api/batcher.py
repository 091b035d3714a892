"""Classification off the event loop, with concurrent requests merged into one model call.

One worker thread runs the matcher. Requests that arrive while it is busy wait in a queue and are then encoded
together: on two cores one batch of 32 texts costs far less than 32 separate calls, and the transformer never
competes with itself for the CPU.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from dataclasses import dataclass, field

from inference.matcher import Match, Matcher

MAX_BATCH_TEXTS = 128


@dataclass
class _Request:
    matcher: Matcher
    texts: list[str]
    top_k: int
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class ClassifyBatcher:
    def __init__(self, max_batch_texts: int = MAX_BATCH_TEXTS) -> None:
        self.max_batch_texts = max_batch_texts
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="lvzhi-classify", daemon=True)
        self.batches = 0
        self.texts = 0
        self.in_flight = 0  # texts the model is working on right now

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    async def classify(self, matcher: Matcher, texts: list[str], top_k: int) -> list[Match]:
        request = _Request(matcher, texts, top_k)
        self._queue.put(request)
        return await asyncio.wrap_future(request.future)

    def _take_batch(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, size, stop = [first], len(first.texts), False
        while size < self.max_batch_texts:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                stop = True
                break
            batch.append(more)
            size += len(more.texts)
        return batch, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._take_batch(first)
            groups: dict[tuple[int, int], list[_Request]] = {}
            for request in batch:
                groups.setdefault((id(request.matcher), request.top_k), []).append(request)
            for requests in groups.values():
                self._answer(requests)
            if stop:
                return

    def _answer(self, requests: list[_Request]) -> None:
        live = [r for r in requests if r.future.set_running_or_notify_cancel()]
        if not live:
            return
        texts = [t for r in live for t in r.texts]
        self.in_flight = len(texts)
        try:
            matches = live[0].matcher.match(texts, top_k=live[0].top_k)
        except Exception as exc:
            for r in live:
                r.future.set_exception(exc)
            return
        finally:
            self.in_flight = 0
        self.batches += 1
        self.texts += len(texts)
        start = 0
        for r in live:
            r.future.set_result(matches[start : start + len(r.texts)])
            start += len(r.texts)
