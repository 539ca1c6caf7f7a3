"""What the runner needs from a judge, and the errors that tell it what to do next.

    reply = judge.complete(messages)   # Reply(text, finish_reason, refused, prompt_tokens, completion_tokens)

A judge raises Retryable for what may pass on another try (429, 5xx, timeouts, lost connections),
Rejected for a request this endpoint will never answer (400: too long, bad content), and Fatal for
what no request can pass (a wrong key, model or URL): then the run stops, since every response
would fail the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str | None = None
    refused: bool = False  # the endpoint said so (a refusal field, a content filter), not a guess from the words
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Rejected(Exception):
    pass


class Fatal(Exception):
    pass
