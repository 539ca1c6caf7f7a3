"""Issue 24 item 3: which of MiniLM's Linear layers can run in int8 (torch dynamic quantization, per
channel, as arenakit.inputs.embedder.quantize_linear_layers) and keep the vectors at a mean cosine
of 0.999 to fp32 ones, and at what speed; and whether the AVX2 environment variables emulate a CPU
without AVX-512 for the fp32 path.

Texts: the first 300 distinct non-empty responses (response A's turns joined) of TRAIN_CSV's rows,
embedded at 128 tokens. Reference: the kit's fp32 path (SentenceEmbedder.encode, precision fp32).
Variants, each a copy of the fp32 model with these Linear layers quantized:
  all        every Linear (today's precision="int8")
  ffn        each BertLayer's intermediate.dense and output.dense (not attention.output.dense)
  ffn_0_4    the same in layers 0-4 only (the last layer stays fp32)
  no_qkv     every Linear but attention.self.query/key/value
  ffn_in     intermediate.dense only (384 -> 1536)
  ffn_out    output.dense only (1536 -> 384)
  <name>_a8  the same layers with 8-bit activations: torch's dynamic Linear quantizes activations to
             7 bits (reduce_range=True, so that AVX2's u8 x s8 pair sums cannot saturate int16);
             VNNI CPUs (AVX-512 VNNI, AVX-VNNI) multiply 8 bits exactly. Not safe on a plain AVX2 CPU.
  attn_out_ffn_in_0_5_a8   attention.output.dense everywhere + intermediate.dense of layers 0 and 5,
             8-bit activations: the most int8 work found within a mean cosine of 0.999 (see --sensitivity)
Per variant: mean and min cosine to the fp32 vectors, and texts/s against fp32, the paths alternated
in one process (fp32, plain SentenceTransformer.encode, each variant; REPS rounds; medians).
With --sensitivity instead: the cosine alone, one group of layers quantized at a time (q/k/v,
attention.output, intermediate.dense of one layer, FFN output.dense), 7- and 8-bit activations.
Then the ISA check: child processes embed the texts in fp32 with and without
ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 (set before torch is
imported), alternated, REPS each.

    PYTHONPATH=lib .venv/bin/python experiments/int8_layers.py ../shared/data/arena-sample/train.csv build/h24b-int8
    (optional third argument: REPS, default 3)
    PYTHONPATH=lib .venv/bin/python experiments/int8_layers.py --sensitivity ../shared/data/arena-sample/train.csv
"""

import copy
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path

N_TEXTS, MAX_SEQ = 300, 128
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def load_texts(train_csv: Path) -> list[str]:
    from arenakit.data import load_competition

    train = load_competition(train_csv.parent, warn=False).train
    texts = ["\n".join(turns) for turns in train["response_turns_a"]]
    return [text for text in dict.fromkeys(texts) if text.strip()][:N_TEXTS]


def embedder(precision: str = "fp32"):
    from arenakit.inputs.embedder import SentenceEmbedder

    return SentenceEmbedder(device="cpu", precision=precision, max_seq_length=MAX_SEQ, show_progress=False)


def isa_child(train_csv: Path) -> None:
    """Runs in a fresh process (the environment decides the ISA): prints JSON with fp32 texts/s."""
    import torch

    texts = load_texts(train_csv)
    fp32 = embedder()
    fp32.encode(texts[:32])  # warm-up
    start = time.perf_counter()
    fp32.encode(texts)
    seconds = time.perf_counter() - start
    print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "texts_per_s": len(texts) / seconds}))


def layer_names(model, wanted) -> set[str]:
    import torch

    return {name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear) and wanted(name)}


def is_ffn(name: str) -> bool:
    return name.endswith(".intermediate.dense") or (name.endswith(".output.dense") and ".attention." not in name)


def layer_index(name: str) -> int:
    return int(name.split(".layer.")[1].split(".")[0])


LAYER_SETS = {
    "all": lambda name: True,
    "ffn": is_ffn,
    "ffn_0_4": lambda name: is_ffn(name) and layer_index(name) <= 4,
    "no_qkv": lambda name: not name.endswith((".query", ".key", ".value")),
    "ffn_in": lambda name: name.endswith(".intermediate.dense"),
    "ffn_out": lambda name: is_ffn(name) and name.endswith(".output.dense"),
    "attn_out_ffn_in_0_5": lambda name: (
        name.endswith(".attention.output.dense")
        or (name.endswith(".intermediate.dense") and layer_index(name) in (0, 5))
    ),
}


# name -> (layers, 8-bit activations)
def in_layer(index: int, name: str) -> bool:
    return name.endswith(".intermediate.dense") and layer_index(name) == index


VARIANTS = {name: (LAYER_SETS[name], False) for name in ("all", "ffn", "ffn_0_4", "no_qkv", "ffn_in", "ffn_out")}
VARIANTS |= {f"{name}_a8": (LAYER_SETS[name], True) for name in ("all", "no_qkv", "ffn_in", "attn_out_ffn_in_0_5")}
GROUPS = {
    "qkv": lambda name: name.endswith((".query", ".key", ".value")),
    "attn_out": lambda name: name.endswith(".attention.output.dense"),
    **{f"ffn_in_L{i}": partial(in_layer, i) for i in range(6)},
    "ffn_out": LAYER_SETS["ffn_out"],
}


def quantized_copy(model, names: set[str], eight_bit_activations: bool = False):
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(
            copy.deepcopy(model), {name: per_channel_dynamic_qconfig for name in names}, dtype=torch.qint8
        )
    if eight_bit_activations:
        for module in quantized.modules():
            if isinstance(module, DynamicLinear):
                module.version = 3  # its forward then calls linear_dynamic without reduce_range=True
    return quantized


def cosine(left, right):
    import numpy as np

    return (left * right).sum(1) / (np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1))


def sensitivity(train_csv: Path) -> None:
    texts = load_texts(train_csv)
    reference = embedder()
    fp32 = reference.encode(texts)
    print(f"{len(texts)} texts, {MAX_SEQ} tokens: cosine to fp32 with one group of Linear layers in int8")
    print("| group | layers | mean cos, 7-bit act | min | mean cos, 8-bit act | min |\n|---|---|---|---|---|---|")
    for group, wanted in GROUPS.items():
        names = layer_names(reference.model, wanted)
        cells = []
        for eight_bit in (False, True):
            path = embedder()
            path._model = quantized_copy(reference.model, names, eight_bit).eval()
            cos = cosine(fp32, path.encode(texts))
            cells += [f"{cos.mean():.5f}", f"{cos.min():.5f}"]
        print(f"| {group} | {len(names)} | {' | '.join(cells)} |", flush=True)


def main(train_csv: Path, out_dir: Path, reps: int) -> None:
    import numpy as np
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    texts = load_texts(train_csv)
    reference = embedder()
    base_model = reference.model
    paths = {"fp32": reference}
    counts = {}
    for variant, (wanted, eight_bit) in VARIANTS.items():
        names = layer_names(base_model, wanted)
        counts[variant] = len(names)
        path = embedder()
        path._model = quantized_copy(base_model, names, eight_bit).eval()
        paths[variant] = path
    plain = copy.deepcopy(base_model)  # sentence-transformers' own encode, same model and max_seq_length

    def plain_encode(batch):
        return plain.encode(batch, batch_size=reference.batch_size, show_progress_bar=False, convert_to_numpy=True)

    runners = {name: path.encode for name, path in paths.items()} | {"st_plain_fp32": plain_encode}
    for run in runners.values():
        run(texts[:32])  # warm-up
    seconds = {name: [] for name in runners}
    vectors = {}
    for _ in range(reps):
        for name, run in runners.items():
            start = time.perf_counter()
            vectors[name] = run(texts)
            seconds[name].append(time.perf_counter() - start)

    fp32_s = statistics.median(seconds["fp32"])
    rows = {}
    for name in runners:
        cos = cosine(vectors["fp32"], np.asarray(vectors[name]))
        median_s = statistics.median(seconds[name])
        rows[name] = {
            "linear_layers_int8": counts.get(name, 0),
            "mean_cos": float(cos.mean()),
            "min_cos": float(cos.min()),
            "texts_per_s": len(texts) / median_s,
            "speed_vs_fp32": fp32_s / median_s,
            "seconds": [round(s, 2) for s in seconds[name]],
        }
    isa = {"default": [], "avx2_env": []}
    for _ in range(reps):
        for label, extra in (("default", {}), ("avx2_env", AVX2_ENV)):
            child = subprocess.run(
                [sys.executable, __file__, "--isa-child", str(train_csv)],
                env={**os.environ, **extra},
                capture_output=True,
                text=True,
                check=True,
            )
            isa[label].append(json.loads(child.stdout.strip().splitlines()[-1]))
    result = {"texts": len(texts), "max_seq_length": MAX_SEQ, "threads": torch.get_num_threads(), "paths": rows}
    result["isa"] = {
        label: {
            "capability": runs[0]["capability"],
            "texts_per_s_median": statistics.median(run["texts_per_s"] for run in runs),
            "texts_per_s": [round(run["texts_per_s"], 1) for run in runs],
        }
        for label, runs in isa.items()
    }
    (out_dir / "results.json").write_text(json.dumps(result, indent=1))
    print(f"{len(texts)} texts, {MAX_SEQ} tokens, {torch.get_num_threads()} threads, medians of {reps}")
    print("| path | int8 Linear layers | mean cos | min cos | texts/s | x fp32 kit |\n|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['linear_layers_int8']} | {row['mean_cos']:.5f} | {row['min_cos']:.5f} "
            f"| {row['texts_per_s']:.1f} | {row['speed_vs_fp32']:.2f} |"
        )
    print("| fp32 ISA | torch capability | texts/s (median) | runs |\n|---|---|---|---|")
    for label, row in result["isa"].items():
        print(f"| {label} | {row['capability']} | {row['texts_per_s_median']:.1f} | {row['texts_per_s']} |")


if __name__ == "__main__":
    if sys.argv[1] == "--isa-child":
        isa_child(Path(sys.argv[2]))
    elif sys.argv[1] == "--sensitivity":
        sensitivity(Path(sys.argv[2]))
    else:
        main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 3)
