"""python -m arenakit.annotate: rate every response of a competition folder (and extra files) with an LLM judge.

    python -m arenakit.annotate --data-dir data --out build/annotations.jsonl \\
        --base-url http://127.0.0.1:8000/v1 --model meta-llama/Llama-3.1-70B-Instruct --concurrency 64
    python -m arenakit.annotate --data-dir data --out build/annotations.jsonl --local Qwen/Qwen2.5-7B-Instruct --quantize 4bit --device cuda:0
    python -m arenakit.annotate --data-dir data --out x.jsonl --model m --dry-run     # print one prompt, call nothing

A rerun skips the responses already rated (ok, unparsable, refused) and tries the failed ones
again; --limit N rates at most N more. The key is read from the environment variable named by
--api-key-env and is never printed or written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from arenakit.annotate.prompt import DEFAULT_MAX_CONVERSATION_TOKENS

EXPECTED_ERRORS = (ValueError, FileNotFoundError, ImportError, OSError)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m arenakit.annotate", description=__doc__.split("\n\n")[0])
    data = parser.add_argument_group("what to rate")
    data.add_argument("--data-dir", help="competition folder (train.csv, test.csv, sample_submission.csv)")
    data.add_argument(
        "--splits",
        nargs="+",
        choices=("train", "test"),
        default=["train", "test"],
        help="of --data-dir (default: both)",
    )
    data.add_argument(
        "--extra", action="append", default=[], metavar="CSV", help="more rows in the competition format (repeatable)"
    )
    parser.add_argument("--out", required=True, help="the JSONL of records; a rerun resumes it")
    judge = parser.add_argument_group("the judge: an OpenAI-compatible endpoint, or --local")
    judge.add_argument("--base-url", help="e.g. http://127.0.0.1:8000/v1 (vLLM), http://127.0.0.1:11434/v1 (Ollama)")
    judge.add_argument("--model", help="the model name the endpoint serves")
    judge.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="the environment variable holding the key (default OPENAI_API_KEY; unset: a placeholder, as local servers need none)",
    )
    judge.add_argument("--local", metavar="MODEL_OR_FOLDER", help="a Hugging Face causal LM run in this process")
    judge.add_argument("--quantize", choices=("8bit", "4bit"), help="--local: bitsandbytes weights")
    judge.add_argument("--device", default="cpu", help="--local: cpu, cuda:0, ... (default cpu)")
    judge.add_argument("--dtype", default="auto", help="--local: auto, float32, float16, bfloat16")
    prompt = parser.add_argument_group("prompt and answer")
    prompt.add_argument("--taxonomy", help="a taxonomy JSON (default: the paper's properties, taxonomy_paper_v1.json)")
    prompt.add_argument(
        "--max-conversation-tokens",
        type=int,
        default=DEFAULT_MAX_CONVERSATION_TOKENS,
        help=f"budget of the prompt + response text, cut head and tail beyond it (default {DEFAULT_MAX_CONVERSATION_TOKENS})",
    )
    prompt.add_argument(
        "--tokenizer", help="counts the budget's tokens (default: --local's own, else the bundled MiniLM WordPiece)"
    )
    prompt.add_argument(
        "--no-system-role",
        action="store_true",
        help="send the instructions in the first user message (for endpoints serving a model whose chat template has "
        "no system role, e.g. Gemma; --local does this by itself)",
    )
    prompt.add_argument("--max-tokens", type=int, default=1024, help="the answer's token limit (default 1024)")
    run = parser.add_argument_group("the run")
    run.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8; --local runs one)")
    run.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    run.add_argument("--max-tries", type=int, default=5, help="per request, on 429, 5xx, timeouts (default 5)")
    run.add_argument("--backoff", type=float, default=1.0, help="first wait in seconds, doubled per try (default 1)")
    run.add_argument("--limit", type=int, help="rate at most N more responses")
    run.add_argument("--dry-run", action="store_true", help="print the messages for one response; call nothing")
    run.add_argument("--price-per-mtok-in", type=float, help="price per million prompt tokens, for the cost line")
    run.add_argument("--price-per-mtok-out", type=float, help="price per million completion tokens")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.data_dir and not args.extra:
        parser.error("nothing to rate: pass --data-dir (a competition folder) and/or --extra CSV")
    if args.local and (args.base_url or args.model):
        parser.error("--local runs the judge here: leave out --base-url and --model (they name an endpoint's judge)")
    if not args.local and not args.model:
        parser.error("name the judge: --model NAME (with --base-url for a server other than OpenAI's) or --local MODEL")
    for name in ("concurrency", "max_tries", "max_tokens", "max_conversation_tokens"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more; got {getattr(args, name)}")
    if args.limit is not None and args.limit < 0:
        parser.error(f"--limit must be 0 or more; got {args.limit}")
    return args


def load_frames(args) -> list:
    from arenakit.data.competition import load_competition, load_test

    frames = []
    if args.data_dir:
        competition = load_competition(args.data_dir)
        frames += [(f"{split}.csv", getattr(competition, split)) for split in args.splits]
    for path in args.extra:
        # load_test reads the columns every competition file has (id, prompt, response_a, response_b).
        frames.append((Path(path).name, load_test(path)[0]))
    return frames


def judge_name(args) -> str:
    from arenakit.annotate.local_judge import local_judge_name
    from arenakit.annotate.openai_judge import openai_judge_name

    return local_judge_name(args.local) if args.local else openai_judge_name(args.model)


def build_tokenizer(args):
    from arenakit.models.lora.backbone import load_tokenizer

    if args.tokenizer or args.local:
        tokenizer = load_tokenizer(args.tokenizer or args.local)
    else:
        from arenakit.inputs.embedder import default_model_path

        tokenizer = load_tokenizer(default_model_path())
    # It only counts and cuts: its model's length limit (MiniLM's 512) means nothing here.
    tokenizer.model_max_length = 10**9
    return tokenizer


def build_judge(args):
    if args.local:
        from arenakit.annotate.local_judge import LocalJudge

        return LocalJudge(args.local, args.quantize, args.device, args.dtype, args.max_tokens)
    from arenakit.annotate.openai_judge import OpenAIJudge

    # Servers such as vLLM, Ollama and llama.cpp take any key; the client needs a non-empty one.
    key = os.environ.get(args.api_key_env) or "EMPTY"
    return OpenAIJudge(args.base_url, args.model, key, args.timeout, args.max_tokens)


# Responses whose token counts --dry-run reports: enough for stable means, quick on a CPU.
ESTIMATE_SAMPLE = 2000


def dry_run(items, builder, out) -> None:
    from arenakit.annotate.estimate import token_estimate
    from arenakit.annotate.records import RecordStore

    done = RecordStore(out, read_only=True).done if Path(out).exists() else {}
    pending = [item for item in items if item.key not in done]
    print(f"{len(items)} distinct responses, {len(pending)} to rate; the messages for the first one:")
    if not pending:
        return
    item = pending[0]
    conversation = builder.conversations([(item.prompt_turns, item.response_turns)])[0]
    messages = builder.messages(conversation)
    for message in messages:
        print(f"\n===== {message['role']} =====\n{message['content']}")
    tokens = sum(len(builder.tokenizer(m["content"], add_special_tokens=False)["input_ids"]) for m in messages)
    print(f"\n({len(messages)} messages, about {tokens} tokens of the budget tokenizer; source {item.source})")
    for line in token_estimate(builder, pending[:ESTIMATE_SAMPLE]).lines():
        print(line)


def main(argv: list[str] | None = None) -> int:
    from arenakit.annotate.prompt import PromptBuilder
    from arenakit.annotate.rate import RetryPolicy
    from arenakit.annotate.runner import annotate, key_tag, response_items
    from arenakit.data.taxonomy import load_taxonomy

    args = parse_args(argv)
    try:
        taxonomy = load_taxonomy(args.taxonomy)
        items = response_items(load_frames(args), key_tag(taxonomy), judge_name(args))
        builder = PromptBuilder(taxonomy, build_tokenizer(args), args.max_conversation_tokens, not args.no_system_role)
        if args.dry_run:
            dry_run(items, builder, args.out)
            return 0
        summary = annotate(
            items,
            build_judge(args),
            builder,
            args.out,
            concurrency=1 if args.local else args.concurrency,
            limit=args.limit,
            policy=RetryPolicy(args.max_tries, args.backoff),
            progress=not args.no_progress,
            price_in=args.price_per_mtok_in,
            price_out=args.price_per_mtok_out,
        )
    except EXPECTED_ERRORS as error:
        print(f"arenakit.annotate: {error}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    return 1 if summary.stopped else 0


if __name__ == "__main__":
    sys.exit(main())
