"""Issue 24 item 2: minilm_lgbm with texts="all" (five kinds embedded) against texts="sides" (two kinds),
and "sides" at 96 tokens, on the real rows: the cold embedding time and the OOF log loss per LightGBM seed.

Embedder: fp32 on the CPU (precision forced, whatever the CPU), max_seq_length None (the CPU's 128)
unless a variant sets it. Folds: the minilm_lgbm notebook's defaults (shared_folds, 5 folds, seed 42).

Timing: each variant embeds the rows into an empty cache folder of its own (OUT/<variant>/cache<rep>),
REPS times, the variants alternated in one process (a b c a b c ...), after one warm-up batch;
the median is reported (the model load is not timed). Then cross_validate per seed, reading the
first rep's (now filled) cache. Writes OUT/results.json and prints a markdown table.

    PYTHONPATH=lib .venv/bin/python experiments/minilm_texts.py ../shared/data/arena-sample build/h24b-texts
    (optional third argument: REPS, default 3, 0: only the counts of texts and tokens; fourth:
    comma-separated seeds, default 42,1,2; "-": timing only, no cross-validation; fifth:
    comma-separated variants, default a_all,b_sides,c_sides_96; "vs first" compares with the first)

"tokens" is the sum of the token lengths of the distinct texts each variant embeds (what the
model computes on, padding aside): a size figure that other work on the machine cannot disturb.
"""

import json
import statistics
import sys
import time
from pathlib import Path

from arenakit.data import load_competition
from arenakit.data.folds import shared_folds
from arenakit.inputs import formatting
from arenakit.inputs.embedder import first_occurrences, text_keys
from arenakit.models.minilm_lgbm import TEXT_SETS, MiniLMLightGBMModel
from arenakit.pipeline.cv import cross_validate

VARIANTS = {
    "a_all": {"texts": "all"},
    "b_sides": {"texts": "sides"},
    "c_sides_96": {"texts": "sides", "max_seq_length": 96},
    # Not run by default: the two at MiniLM's own 256 tokens (what MiniLMLightGBMModel() embedded at
    # on a CPU before its None was resolved to 128 there).
    "d_all_256": {"texts": "all", "max_seq_length": 256},
    "e_sides_256": {"texts": "sides", "max_seq_length": 256},
}
COMMON = {"precision": "fp32", "device": "cpu", "max_seq_length": None}

data_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
seeds = [int(s) for s in sys.argv[4].split(",") if s != "-"] if len(sys.argv) > 4 else [42, 1, 2]
chosen = sys.argv[5].split(",") if len(sys.argv) > 5 else ["a_all", "b_sides", "c_sides_96"]
VARIANTS = {name: VARIANTS[name] for name in chosen}
out_dir.mkdir(parents=True, exist_ok=True)
train = load_competition(data_dir).train
folds = shared_folds(out_dir, train, n_folds=5, seed=42)


def model_for(variant: str, rep: int, seed: int = 42) -> MiniLMLightGBMModel:
    cache = out_dir / variant / f"cache{rep}"
    return MiniLMLightGBMModel(**{**COMMON, **VARIANTS[variant]}, cache_dir=str(cache), seed=seed)


# One warm-up batch: the process's first forward pays oneDNN's set-up, which no variant should.
warm = model_for(chosen[0], 0)._embedder()
warm.show_progress = False
warm.encode(train["prompt"].astype(str).head(64).tolist())


def sizes(name: str) -> tuple[int, int]:
    """(distinct texts, their tokens) that the variant embeds, formatted as the embedder does."""
    model = model_for(name, 0)
    sources = first_occurrences(text_keys(train, TEXT_SETS[model.texts]))
    conversations = [
        [train[column].iat[row] for column in formatting.TEXT_KINDS[kind]] for row, kind in sources.values()
    ]
    embedder = model._embedder()
    _, ids = formatting.format_conversations(
        conversations, embedder.tokenizer, embedder.max_seq_length, model.prompt_share, return_ids=True
    )
    return len(sources), sum(map(len, ids))


results = {}
for name, settings in VARIANTS.items():
    texts, tokens = sizes(name)
    results[name] = {
        "settings": {**COMMON, **settings},
        "distinct_texts": texts,
        "tokens": tokens,
        "embed_s": [],
        "oof": {},
    }
    print(name, "distinct texts", texts, "tokens", tokens, flush=True)
if reps == 0:
    sys.exit(0)
for rep in range(reps):
    for name in VARIANTS:
        model = model_for(name, rep)
        embedder = model._embedder()
        embedder.show_progress = False
        _ = embedder.model  # loaded before the clock starts
        start = time.perf_counter()
        embedder.embed_sides(train, prompt_share=model.prompt_share, kinds=TEXT_SETS[model.texts])
        results[name]["embed_s"].append(round(time.perf_counter() - start, 2))
        print(name, "rep", rep, "embed s", results[name]["embed_s"][-1], flush=True)

if not seeds:
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    print({name: (statistics.median(result["embed_s"]), result["embed_s"]) for name, result in results.items()})
    sys.exit(0)
for name in VARIANTS:
    for seed in seeds:
        start = time.perf_counter()
        run = cross_validate(model_for(name, 0, seed), train, folds, progress=False)
        results[name]["oof"][seed] = run.metrics["oof_log_loss"]
        print(name, "seed", seed, f"oof {run.metrics['oof_log_loss']:.4f}", f"cv s {time.perf_counter() - start:.0f}")
    results[name]["oof_mean"] = statistics.fmean(results[name]["oof"].values())
    results[name]["embed_s_median"] = statistics.median(results[name]["embed_s"])
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))

base = results[chosen[0]]["oof_mean"]
print(
    f"\n| variant | OOF {' | OOF '.join(map(str, seeds))} | mean | vs first | embed s (median of {reps}) | texts | tokens |"
)
print("|---" * (len(seeds) + 6) + "|")
for name, result in results.items():
    per_seed = " | ".join(f"{result['oof'][seed]:.4f}" for seed in seeds)
    print(
        f"| {name} | {per_seed} | {result['oof_mean']:.4f} | {result['oof_mean'] - base:+.4f} "
        f"| {result['embed_s_median']:.1f} ({', '.join(map(str, result['embed_s']))}) | {result['distinct_texts']} | {result['tokens']} |"
    )
