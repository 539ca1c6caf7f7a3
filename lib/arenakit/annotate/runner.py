"""The resumable annotation run: every response of the given frames, each rated once, under a concurrency limit.

    items = response_items([("train.csv", comp.train), ("test.csv", comp.test)], key_tag(taxonomy), judge_name)
    summary = annotate(items, judge, builder, "build/annotations.jsonl", concurrency=8, limit=None)

A response is (prompt, one response); its key is annotation_key(prompt, response, tag, judge), so
a response that occurs twice (the same answer on both sides, or in train and test) is rated once.
Work goes in chunks: a chunk's conversations are cut to the budget in one batched call of the
formatter and queued to a thread pool of `concurrency` workers, the next chunk as soon as fewer
than a chunk's worth wait; each worker appends its record (records.RecordStore, under a lock)
before it takes the next response, so a kill loses at most the requests in flight.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from arenakit.annotate.judges import Fatal
from arenakit.annotate.prompt import PROMPT_VERSION, PromptBuilder
from arenakit.annotate.rate import RetryPolicy, rate_response
from arenakit.annotate.records import OUTCOMES, RecordStore
from arenakit.data.annotations import response_keys
from arenakit.data.taxonomy import Taxonomy
from arenakit.inputs.formatting import TEXT_KINDS

SIDES = ("a", "b")


def key_tag(taxonomy: Taxonomy) -> str:
    """What besides the texts and the judge decides a rating: the taxonomy's version and the prompt's."""
    return f"{taxonomy.tag}/prompt{PROMPT_VERSION}"


@dataclass(frozen=True)
class ResponseItem:
    key: str
    prompt_turns: tuple
    response_turns: tuple
    source: dict  # the first row holding this response: file, id, side


def response_items(frames: list[tuple[str, pd.DataFrame]], tag: str, judge: str) -> list[ResponseItem]:
    """Every distinct response of the frames (parsed competition frames), rows in order, side A before B."""
    items: dict[str, ResponseItem] = {}
    for file, frame in frames:
        keys = {side: response_keys(frame, side, tag, judge) for side in SIDES}
        for row in range(len(frame)):
            for side in SIDES:
                key = keys[side][row]
                if key not in items:
                    prompt_column, response_column = TEXT_KINDS[side]
                    items[key] = ResponseItem(
                        key,
                        frame[prompt_column].iat[row],
                        frame[response_column].iat[row],
                        {"file": file, "id": int(frame["id"].iat[row]), "side": side},
                    )
    return list(items.values())


@dataclass
class Summary:
    total: int  # distinct responses in the input
    already_done: int  # rated by an earlier run
    attempted: int  # sent to the judge by this run
    outcomes: Counter  # this run's outcomes
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool
    notes: list
    price_in: float | None = None
    price_out: float | None = None
    stopped: str | None = None  # why the run stopped early, if it did
    in_file: Counter | None = None  # the outcomes of the responses of these items in the file after the run

    @property
    def cost(self) -> float | None:
        if not self.usage_reported or self.price_in is None or self.price_out is None:
            return None
        return (self.prompt_tokens * self.price_in + self.completion_tokens * self.price_out) / 1e6

    def lines(self) -> list[str]:
        counts = ", ".join(f"{outcome} {self.outcomes.get(outcome, 0)}" for outcome in OUTCOMES)
        lines = [*self.notes]
        lines.append(
            f"{self.total} distinct responses: {self.already_done} done before, {self.attempted} rated now ({counts})"
        )
        if self.usage_reported:
            tokens = f"tokens: {self.prompt_tokens:,} in, {self.completion_tokens:,} out"
            cost = self.cost
            if cost is not None:
                tokens += f"; cost {cost:,.4f} at {self.price_in}/{self.price_out} per million tokens in/out"
            else:
                tokens += "; cost: pass --price-per-mtok-in and --price-per-mtok-out"
            lines.append(tokens)
        else:
            lines.append("tokens: the endpoint reported no usage")
        if self.in_file is not None:
            lines.append(
                f"in the file for these responses: {', '.join(f'{o} {self.in_file.get(o, 0)}' for o in OUTCOMES)}"
            )
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        return lines


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def annotate(
    items: list[ResponseItem],
    judge,
    builder: PromptBuilder,
    out,
    concurrency: int = 8,
    limit: int | None = None,
    policy: RetryPolicy | None = None,
    progress: bool = True,
    price_in: float | None = None,
    price_out: float | None = None,
) -> Summary:
    """Rate the items not yet in `out` (at most `limit`), appending one record each; the summary of the run."""
    if concurrency < 1:
        raise ValueError(f"concurrency={concurrency}: use 1 or more parallel requests")
    policy = policy or RetryPolicy()
    store = RecordStore(out)
    pending = [item for item in items if item.key not in store.done]
    already = len(items) - len(pending)
    if limit is not None:
        pending = pending[:limit]
    summary = Summary(len(items), already, 0, Counter(), 0, 0, False, store.notes, price_in, price_out)
    bar = tqdm(total=len(pending), unit="resp", disable=not progress, dynamic_ncols=True)

    lock = threading.Lock()

    def work(item: ResponseItem, conversation: str) -> None:
        record = rate_response(judge, builder.messages(conversation), builder.taxonomy, policy)
        record = {
            "key": item.key,
            "taxonomy": builder.taxonomy.tag,
            "key_tag": key_tag(builder.taxonomy),
            "judge": judge.name,
            **record,
            "source": item.source,
        }
        # The worker writes its record before it takes the next response: a kill then loses at
        # most one response per worker, whatever the disk's fsync time.
        with lock:
            store.append(record)
            summary.attempted += 1
            summary.outcomes[record["outcome"]] += 1
            if record["usage"] is not None:
                summary.usage_reported = True
                summary.prompt_tokens += record["usage"]["prompt_tokens"]
                summary.completion_tokens += record["usage"]["completion_tokens"]

    pool = ThreadPoolExecutor(max_workers=concurrency)
    chunk_size = max(64, 8 * concurrency)
    chunks = _chunks(pending, chunk_size)
    futures: set = set()
    try:
        while True:
            # Keep the next chunk formatted and queued while this one runs: a slow or retried
            # request then holds up one worker, not the whole run.
            while len(futures) < chunk_size and (chunk := next(chunks, None)) is not None:
                conversations = builder.conversations([(item.prompt_turns, item.response_turns) for item in chunk])
                futures |= {pool.submit(work, item, text) for item, text in zip(chunk, conversations)}
            if not futures:
                break
            finished, futures = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()  # a Fatal error stops the run: every request would fail alike
                bar.update(1)
                bar.set_postfix(tok_in=summary.prompt_tokens, tok_out=summary.completion_tokens, refresh=False)
    except Fatal as error:
        summary.stopped = str(error)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        store.close()
    failed_now = summary.outcomes.get("failed", 0)
    summary.in_file = Counter(store.done[item.key] for item in items if item.key in store.done)
    summary.in_file["failed"] = failed_now
    return summary
