"""One response through a judge: retries with backoff, one repair attempt, exactly one outcome.

    record = rate_response(judge, messages, taxonomy, RetryPolicy(max_tries=5, backoff_seconds=1.0))

Outcomes: ok (every property rated, maybe after the repair), refused (the endpoint flagged a
refusal, or both the answer and the reply to the repair request read as refusals without any
JSON), unparsable (no complete answer after the one
repair; the raw text and any partial ratings are kept), failed (no answer after max_tries
requests, or a request the endpoint rejects). Fatal errors propagate: the run stops.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from arenakit.annotate.judges import Rejected, Reply, Retryable
from arenakit.annotate.parsing import looks_like_refusal, parse_answer, repair_message
from arenakit.data.taxonomy import Taxonomy


@dataclass(frozen=True)
class RetryPolicy:
    max_tries: int = 5
    backoff_seconds: float = 1.0  # the first wait; it doubles per try, with jitter
    max_backoff_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        wait = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_backoff_seconds))
        return wait


class _Calls:
    """The requests of one response: tries and usage summed over retries and the repair."""

    def __init__(self, judge, policy: RetryPolicy):
        self.judge, self.policy = judge, policy
        self.tries = 0
        self.prompt_tokens = self.completion_tokens = 0
        self.usage_reported = False

    def ask(self, messages: list[dict]) -> Reply:
        for attempt in range(1, self.policy.max_tries + 1):
            self.tries += 1
            try:
                reply = self.judge.complete(messages)
            except Retryable as error:
                if attempt == self.policy.max_tries:
                    raise Retryable(f"failed after {attempt} tries; last: {error}") from None
                time.sleep(self.policy.delay(attempt, error.retry_after))
                continue
            if reply.prompt_tokens is not None:
                self.usage_reported = True
                self.prompt_tokens += reply.prompt_tokens
                self.completion_tokens += reply.completion_tokens or 0
            return reply
        raise AssertionError("unreachable")

    def usage(self) -> dict | None:
        if not self.usage_reported:
            return None
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


def _record(outcome: str, calls: _Calls, started: float, ratings: dict, **fields) -> dict:
    return {
        "outcome": outcome,
        "ratings": ratings,
        "reasons": fields.get("reasons", {}),
        "raw": fields.get("raw"),
        "error": fields.get("error"),
        "repaired": fields.get("repaired", False),
        "tries": calls.tries,
        "usage": calls.usage(),
        "seconds": round(time.monotonic() - started, 3),
    }


def rate_response(judge, messages: list[dict], taxonomy: Taxonomy, policy: RetryPolicy) -> dict:
    """The record fields of one response (key and source are the runner's)."""
    started = time.monotonic()
    calls = _Calls(judge, policy)
    empty = {name: None for name in taxonomy.names}
    try:
        reply = calls.ask(messages)
        if reply.refused:
            return _record("refused", calls, started, empty, raw=reply.text)
        parsed = parse_answer(reply.text, taxonomy)
        if parsed.complete:
            return _record("ok", calls, started, parsed.ratings, reasons=parsed.reasons)
        # Words alone ("I can't ...") are not trusted as a refusal: the repair request asks once more.
        repair = [
            *messages,
            {"role": "assistant", "content": reply.text},
            {"role": "user", "content": repair_message(parsed, taxonomy)},
        ]
        try:
            second = calls.ask(repair)
        except (Retryable, Rejected) as error:
            # The first answer came back: it is kept as unparsable, not lost as failed.
            return _record(
                "unparsable",
                calls,
                started,
                parsed.ratings,
                reasons=parsed.reasons,
                raw=reply.text,
                error=f"repair: {error}",
            )
        raw = f"{reply.text}\n--- after the repair request ---\n{second.text}"
        if second.refused or (looks_like_refusal(reply.text) and looks_like_refusal(second.text)):
            return _record("refused", calls, started, empty, raw=raw)
        repaired = parse_answer(second.text, taxonomy)
        if repaired.complete:
            return _record("ok", calls, started, repaired.ratings, reasons=repaired.reasons, repaired=True)
        rated = sum(v is not None for v in repaired.ratings.values()) > sum(
            v is not None for v in parsed.ratings.values()
        )
        partial = repaired if rated else parsed
        return _record("unparsable", calls, started, partial.ratings, reasons=partial.reasons, raw=raw)
    except (Retryable, Rejected) as error:
        return _record("failed", calls, started, empty, error=str(error))
