"""Benchmark stage "decoder": decoder inference on CPU, and the written 2 x T4 estimate for Gemma-2-9B.

    python -m arenakit.bench --stages decoder --embedder-data ../shared/data/arena-sample --decoder-rows 128

A tiny random Gemma-2 (2 blocks of width 128, eager attention like the real one) reads the data
folder's rows, tokenized by a 32k byte-level BPE trained on its first 2,000 rows (about 4.5 characters a
token on the real sample, close to Gemma's 256k vocabulary on English). At each max_length
(default 512 and 2,048, the decoder_2xt4 profile's), on the first --decoder-rows rows:
- token-budget batches (at most 8 x max_length padded tokens: the memory of 8 full rows),
  8-row batches of length-sorted rows, 8-row batches in row order (a plain DataLoader with
  dynamic padding), and 8-row batches padded to max_length (padding="max_length"): rows/s and
  padded tokens of each, timed interleaved (A B C D D C B A) because the machine may be shared;
- at 512, token-budget batches with 8-bit (bitsandbytes LLM.int8) weights against fp32.
The load average before and after says how busy the machine was.

Then the written estimate for Gemma-2-9B on 2 x T4 at max_length 2,048 for 25,000 rows, from the
real rows' tokens per row (t4_estimate): the arithmetic and its assumptions are printed with it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from arenakit.bench.t4_estimate import t4_estimate
from arenakit.bench.timing import interleaved
from arenakit.bench.tiny_decoder import build_tiny_decoder
from arenakit.data import load_competition
from arenakit.inputs import resolve_backbone
from arenakit.models import CrossEncoderClassifier
from arenakit.models.lora import backbone as lora_backbone
from arenakit.models.lora import batching
from arenakit.models.lora import predict as lora_predict

BATCH_ROWS = 8
# Rows of the data folder that train the tokenizer and give the estimate its tokens per row.
CORPUS_ROWS = 2000
VOCAB = 32_000
TINY_GEMMA = dict(hidden_size=128, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4, head_dim=32)


def corpus_texts(frame) -> list[str]:
    columns = ("prompt_turns", "response_turns_a", "response_turns_b")
    return [turn for column in columns for cell in frame[column] for turn in cell if turn]


def _plain_loop(model, rows, batch_rows: int) -> tuple[np.ndarray, int]:
    """Batches of batch_rows rows in row order, each padded to its longest row: a DataLoader with dynamic padding."""
    import torch

    batches = [np.arange(start, min(start + batch_rows, len(rows))) for start in range(0, len(rows), batch_rows)]
    out = []
    with torch.inference_mode():
        for batch in batches:
            out.append(torch.softmax(model(**rows.batch(batch)).logits.float(), -1).numpy())
    return np.concatenate(out), batching.padded_tokens(rows.lengths, batches)


def _strategies(model, rows, max_length: int) -> dict:

    def predicted(**options):
        def run():
            report = []
            proba = lora_predict.predict_proba(model, rows, devices=["cpu"], progress=False, report=report, **options)
            return proba, report[0].padded_tokens

        return run

    return {
        "token_budget": predicted(max_batch_tokens=BATCH_ROWS * max_length),
        "sorted_8": predicted(batch_size=BATCH_ROWS),
        "row_order_8": lambda: _plain_loop(model, rows, BATCH_ROWS),
        "fixed_8": predicted(batch_size=BATCH_ROWS, pad_to=max_length),
    }


def _length_figures(model, frame, max_length: int) -> dict:
    rows = model.set_params(max_length=max_length).model_inputs(frame)
    timed = interleaved(_strategies(model.model_, rows, max_length))  # name: (seconds, proba, padded tokens)
    figures = {f"mean_tokens_{max_length}": float(rows.lengths.mean())}
    for name, (seconds, _, padded) in timed.items():
        figures[f"{name}_rows_per_s_{max_length}"] = len(rows) / seconds
        figures[f"{name}_padded_tokens_{max_length}"] = padded
    for name in ("sorted_8", "row_order_8", "fixed_8"):
        figures[f"token_budget_vs_{name}_{max_length}"] = timed[name][0] / timed["token_budget"][0]
    reference = timed["token_budget"][1]
    figures[f"max_proba_diff_{max_length}"] = max(float(np.abs(run[1] - reference).max()) for run in timed.values())
    return figures


def _quantized_figures(model, frame, max_length: int) -> dict:

    rows = model.set_params(max_length=max_length).model_inputs(frame)
    base = lora_backbone.load_classifier(resolve_backbone(model.model.backbone), model.tokenizer(), "8bit", "cpu")
    quantized = lora_backbone.attach_adapters(base, *lora_backbone.adapter_state(model.model_))
    budget = BATCH_ROWS * max_length

    def run(which):
        return lambda: (
            lora_predict.predict_proba(which, rows, devices=["cpu"], max_batch_tokens=budget, progress=False),
            0,
        )

    timed = interleaved({"fp32": run(model.model_), "int8": run(quantized)})
    return {
        f"int8_rows_per_s_{max_length}": len(rows) / timed["int8"][0],
        f"fp32_rows_per_s_{max_length}": len(rows) / timed["fp32"][0],
        f"int8_vs_fp32_{max_length}": timed["fp32"][0] / timed["int8"][0],
        f"int8_max_proba_diff_{max_length}": float(np.abs(timed["int8"][1] - timed["fp32"][1]).max()),
    }


def stage_decoder(
    data_dir: Path,
    max_rows: int = 128,
    max_lengths=(512, 2048),
    vocab_size: int = VOCAB,
    corpus_rows: int = CORPUS_ROWS,
) -> dict:
    import torch

    load_before = os.getloadavg()[0]
    torch.manual_seed(0)
    train = load_competition(data_dir, warn=False).train.iloc[:corpus_rows].reset_index(drop=True)
    frame = train.iloc[:max_rows].reset_index(drop=True)
    with tempfile.TemporaryDirectory(prefix="arenakit-decoder-") as tmp:
        texts = corpus_texts(train)
        folder = build_tiny_decoder(Path(tmp) / "gemma2", "gemma2", texts, vocab_size=vocab_size, **TINY_GEMMA)
        model = CrossEncoderClassifier.from_settings({"backbone": str(folder), "device": "cpu", "progress": False})
        model.model_ = lora_backbone.add_lora(
            model._load_backbone(), model.model.lora_r, model.model.lora_alpha, 0.0
        ).eval()
        chars_per_token = sum(map(len, texts)) / sum(map(len, model.tokenizer()(texts)["input_ids"]))
        figures = {"rows": len(frame), "chars_per_token": chars_per_token}
        for max_length in max_lengths:
            figures.update(_length_figures(model, frame, max_length))
        figures.update(_quantized_figures(model, frame, min(max_lengths)))
        # The estimate's tokens per row: the corpus rows at the T4 profile's 2,048.
        lengths = model.set_params(max_length=2048).model_inputs(train).lengths
    padding = batching.padded_tokens(lengths, batching.token_budget_batches(lengths, 8192)) / lengths.sum()
    figures.update(t4_estimate(float(lengths.mean()), float(padding)))
    figures.update(threads=torch.get_num_threads(), load_before=load_before, load_after=os.getloadavg()[0])
    return figures
