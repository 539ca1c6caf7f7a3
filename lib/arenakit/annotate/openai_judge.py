"""A judge behind any OpenAI-compatible chat-completions endpoint, through the official openai client.

    judge = OpenAIJudge("http://127.0.0.1:8000/v1", "meta-llama/Llama-3.1-70B-Instruct", api_key, timeout=120)

That covers a vLLM or TGI server on your own GPUs, Ollama, a llama.cpp server or a cloud API. The
client's own retries are off (max_retries=0): the runner retries with its own backoff, so that a
429, a 5xx and a timeout are counted, reported and tested the same way for every backend. The key
is held by the client only; it appears in no record, log or error message (scrubbed if a server
echoes it).
"""

from __future__ import annotations

from arenakit.annotate.judges import Fatal, Rejected, Reply, Retryable


def openai_judge_name(model: str) -> str:
    """The judge as records name it (part of the key): the served model's name."""
    return f"openai:{model}"


def _retry_after(error) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAIJudge:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        timeout: float = 120.0,
        max_tokens: int = 1024,
        temperature: float = 0.0,
    ):
        try:
            import openai
        except ImportError:
            raise ImportError(
                "the OpenAI-compatible judge needs the openai package: pip install 'arenakit[annotate]' "
                "(or pip install 'openai>=1.40'); --local MODEL needs no server and no openai"
            ) from None
        self._openai = openai
        self._key = api_key
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.name = openai_judge_name(model)
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def complete(self, messages: list[dict]) -> Reply:
        openai = self._openai
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=self.max_tokens, temperature=self.temperature
            )
        except openai.APITimeoutError:
            raise Retryable("timeout") from None
        except openai.APIConnectionError as error:
            raise Retryable(f"connection error: {self._scrub(str(error))}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as error:
            raise Fatal(
                f"the endpoint refused every request ({error.status_code}: {self._scrub(error.message)}). Check "
                "--base-url, --model and the key in the variable named by --api-key-env."
            ) from None
        except openai.APIStatusError as error:
            status = error.status_code
            message = f"HTTP {status}: {self._scrub(error.message)}"
            if status in (408, 409, 429) or status >= 500:
                raise Retryable(message, _retry_after(error)) from None
            raise Rejected(message) from None
        if not response.choices:
            return Reply("", None, False, *_usage(response))
        choice = response.choices[0]
        message = choice.message
        refusal = getattr(message, "refusal", None)
        refused = bool(refusal) or choice.finish_reason == "content_filter"
        return Reply(message.content or refusal or "", choice.finish_reason, refused, *_usage(response))


def _usage(response) -> tuple[int | None, int | None]:
    usage = getattr(response, "usage", None)
    if usage is None:
        return None, None
    return usage.prompt_tokens, usage.completion_tokens
