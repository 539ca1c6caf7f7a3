"""Benchmarks that print figures: `python -m arenakit.bench` (see arenakit.bench.cli for the stages).

cli           the entry point: each stage in a fresh process, its figures (a line, then JSON) and peak memory
data          load + parse + clean + folds, and the featurizer
embedder      the kit's embedder (fp32, bf16, int8) against plain SentenceTransformer.encode
lora          LoRA training and inference throughput, dynamic padding and token budgets against fixed padding
siamese       the Siamese model against the cross-encoder with swap averaging
decoder       a tiny random Gemma-2: token-budget batches against 8-row batches, 8-bit against fp32
decoder_gpu   the decoder stage with --device cuda: a random Gemma-2-9B judge at fp16, 8-bit and 4-bit, T4 time
gpu           the device-specific parts: the GPU's name, its fp16 tensor rate (a table), its memory counters
t4_estimate   the written Gemma-2-9B estimate for 2 x T4 (memory and time, with assumptions)
timing        interleaved timing of variants on a shared machine
tiny_decoder  tiny random decoders and a byte-level tokenizer, built from config (the bench's and the tests')
"""

__all__ = [
    "cli",
    "data",
    "decoder",
    "decoder_gpu",
    "embedder",
    "gpu",
    "lora",
    "siamese",
    "t4_estimate",
    "timing",
    "tiny_decoder",
]
