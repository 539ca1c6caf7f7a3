"""A loopback stand-in for an OpenAI-compatible chat-completions endpoint, to drive the real openai client.

    with JudgeStub(properties, key="sk-test") as stub:
        main(["--base-url", stub.base_url, "--model", "stub-judge", ...])
    stub.requests        # (case, n-th request of that case, is a repair request) in arrival order

What it answers depends on the marker "CASE:<name>" in the conversation it is asked to rate
(none: good):

    good       the JSON answer, every property rated
    prose      the same JSON wrapped in prose and a ```json fence
    malformed  broken JSON first (a missing brace), the good answer to the repair request
    garbled    broken JSON every time: unparsable after the one repair
    refusal    "I'm sorry, but I can't ..." without any JSON
    ratelimit  HTTP 429 twice, then the good answer
    timeout    waits `delay` seconds before every answer (longer than the client's timeout)
    slow       waits `slow_seconds`, then the good answer (the kill test's pace)
    flagged    no content and the refusal field set, as OpenAI's API marks a refusal

Every 200 answer reports usage: 1,000 prompt tokens and 50 completion tokens. A request without
"Authorization: Bearer <key>" gets 401.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROMPT_TOKENS, COMPLETION_TOKENS = 1000, 50
_CASE = re.compile(r"CASE:(\w+)")


def good_answer(properties: dict) -> dict:
    """Every property rated: 2 for a 0-3 rating, 1 for a yes/no one."""
    return {name: {"reason": "stub", "rating": 2 if kind == "rating" else 1} for name, kind in properties.items()}


class JudgeStub:
    def __init__(self, properties: dict, key: str = "", delay: float = 1.0, slow_seconds: float = 0.2):
        self.properties = properties  # name -> kind
        self.key = key
        self.delay = delay
        self.slow_seconds = slow_seconds
        self.requests: list[tuple[str, int, bool]] = []
        self.authorizations: list[str] = []
        self.roles: list[list[str]] = []  # the roles of each request's messages
        self._seen: Counter = Counter()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> JudgeStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub._answer(self, body)

            def log_message(self, *args):
                pass

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): expected in the timeout case

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def count(self, case: str) -> int:
        return sum(1 for name, _, _ in self.requests if name == case)

    def _answer(self, handler, body: dict) -> None:
        self.authorizations.append(handler.headers.get("Authorization", ""))
        if self.key and handler.headers.get("Authorization") != f"Bearer {self.key}":
            return self._send(
                handler, 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
            )
        messages = body["messages"]
        self.roles.append([m["role"] for m in messages])
        marked = [m["content"] for m in messages if m["role"] == "user" and _CASE.search(m["content"])]
        case = _CASE.search(marked[-1]).group(1) if marked else "good"
        repair = messages[-1]["role"] == "user" and "CASE:" not in messages[-1]["content"]
        with self._lock:
            self._seen[case] += 1
            nth = self._seen[case]
            self.requests.append((case, nth, repair))
        good = json.dumps(good_answer(self.properties))
        if case == "ratelimit" and nth <= 2:
            return self._send(handler, 429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}})
        if case == "timeout":
            time.sleep(self.delay)
        if case == "slow":
            time.sleep(self.slow_seconds)
        content = {
            "prose": f"Sure! Here is my rating of the answer:\n```json\n{good}\n```\nI hope this helps.",
            "malformed": good[:-1] if not repair else good,
            "garbled": good[: len(good) // 2],
            "refusal": "I'm sorry, but I can't help with rating this conversation.",
        }.get(case, good)
        self._send(handler, 200, self._completion(body, content, flagged=case == "flagged"))

    def _completion(self, body: dict, content: str, flagged: bool = False) -> dict:
        message = {"role": "assistant", "content": None, "refusal": "Declined by policy."} if flagged else None
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "message": message or {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }

    def _send(self, handler, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
