"""The written estimate for Gemma-2-9B inference on Kaggle's 2 x T4 (no GPU here: arithmetic, not a measurement).

    figures = t4_estimate(mean_tokens=620.0, padding=1.01)   # tokens per row of the real rows at 2,048

Memory, from the published Gemma-2-9B config (42 blocks, width 3,584, 16 query and 8 key/value
heads of 256, feed-forward 14,336, 256k vocabulary tied to the embedding):
- weights: the 8.32 B linear weights at 1 byte (8-bit, plus fp32 row scales) or 0.5 byte plus an
  fp32 scale per 64 (4-bit NF4); the 0.92 B embedding stays fp16 (bitsandbytes quantizes Linear
  layers only); LoRA r=16 on every linear layer of all 42 blocks in fp32 (an upper bound);
- loading: transformers places and quantizes one tensor at a time, so the load peaks at the
  weights plus one fp16 tensor in flight (the largest linear weight, 0.1 GB);
- activations for a batch of T padded tokens, W wide (inference, no KV cache): a few hidden
  states (4 x T x 3,584 x 2 B), the feed-forward's gate, up and product (3 x T x 14,336 x 2 B plus
  the int8 copy of the down projection's input), and Gemma-2's eager attention, whose scores
  T x W x 16 heads are held as two fp16 copies (soft-capping) and one fp32 (softmax): 8 bytes each;
- 0.5 GB for the CUDA context and allocator slack, against the 15 GiB (15,360 MiB) a T4 shows.

Time, anchored on the public figure rather than on a peak FLOP rate: the public Gemma-2-9B 4-bit
notebook predicted 25,000 rows at max_length 2,048 in about 4 h on 2 x T4 (batch 4 per GPU, rows
sorted by length, no TTA), so one T4 reads 12,500 rows x m tokens in 4 h. With swap on the
second GPU each T4 reads all 25,000 rows in one order: twice that work, times the padding of
token-budget batches, divided by 8-bit's speed-up over 4-bit (several teams found 8-bit faster
on a T4; no public figure gives the ratio, so 1.3 is an assumption and 1.0 the upper bound).
m cancels out, since both runs read the same rows at the same max_length; it is printed for the
FLOP cross-check (the effective TFLOPS the public figure implies, against the T4's 65 fp16 peak).
"""

from __future__ import annotations

GIB = 2**30
# Gemma-2-9B's published config.
VOCAB, WIDTH, BLOCKS, HEADS, KV_HEADS, HEAD_DIM, FFN = 256_000, 3_584, 42, 16, 8, 256, 14_336
ATTENTION = HEADS * HEAD_DIM
# Output width of each linear layer of a block: q, k, v, o, gate, up, down; and their input widths.
OUT_WIDTHS = (ATTENTION, KV_HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM, WIDTH, FFN, FFN, WIDTH)
IN_WIDTHS = (WIDTH, WIDTH, WIDTH, ATTENTION, WIDTH, WIDTH, FFN)
LINEAR = BLOCKS * sum(i * o for i, o in zip(IN_WIDTHS, OUT_WIDTHS))
EMBEDDING = VOCAB * WIDTH
LORA_R = 16
T4_MEMORY = 15 * GIB
T4_PEAK_TFLOPS = 65.0  # fp16 tensor cores
CONTEXT_BYTES = 0.5e9
ROWS = 25_000
PUBLIC_HOURS = 4.0  # 4-bit, batch 4 per GPU, 2 x T4, no TTA
INT8_SPEEDUP = 1.3  # over 4-bit, assumed
BATCH_TOKENS = 8192
WIDTH_AT_BUDGET = 2048


def weight_bytes(bits: int) -> float:
    """Bytes of Gemma-2-9B's weights with bitsandbytes at 8 or 4 bits, fp16 embedding, fp32 LoRA r=16 adapters."""
    if bits == 8:
        linear = LINEAR + 4 * BLOCKS * sum(OUT_WIDTHS)  # int8 weights, an fp32 scale per output row
    else:
        linear = LINEAR / 2 + LINEAR / 64 * 4  # NF4 weights, an fp32 scale per block of 64
    adapters = 4 * LORA_R * BLOCKS * sum(i + o for i, o in zip(IN_WIDTHS, OUT_WIDTHS))
    return linear + 2 * EMBEDDING + adapters


def activation_bytes(tokens: int, width: int) -> float:
    """Peak activation bytes of one batch of `tokens` padded tokens, `width` wide (eager attention)."""
    hidden = 4 * tokens * WIDTH * 2
    feed_forward = 3 * tokens * FFN * 2 + tokens * FFN
    attention = tokens * width * HEADS * 8
    return hidden + max(feed_forward, attention)


def t4_estimate(mean_tokens: float, padding: float) -> dict:
    """Memory per T4 and hours for 25,000 rows, with the assumptions as text (t4_assumptions)."""
    activations = activation_bytes(BATCH_TOKENS, WIDTH_AT_BUDGET)
    peak = {bits: weight_bytes(bits) + activations + CONTEXT_BYTES for bits in (8, 4)}
    public_tokens_per_s = ROWS / 2 * mean_tokens / (PUBLIC_HOURS * 3600)
    flops_per_token = 2 * LINEAR + 4 * BLOCKS * ATTENTION * mean_tokens
    implied_tflops = public_tokens_per_s * flops_per_token / 1e12
    hours_upper = 2 * PUBLIC_HOURS * padding
    figures = {
        "t4_weights_gb_8bit": weight_bytes(8) / 1e9,
        "t4_weights_gb_4bit": weight_bytes(4) / 1e9,
        "t4_weights_gb_fp16": 2 * (LINEAR + EMBEDDING) / 1e9,
        "t4_activations_gb_8192_tokens": activations / 1e9,
        "t4_peak_gib_8bit": peak[8] / GIB,
        "t4_peak_gib_4bit": peak[4] / GIB,
        "t4_memory_gib": T4_MEMORY / GIB,
        "t4_mean_tokens_2048": mean_tokens,
        "t4_padding_ratio": padding,
        "t4_public_tokens_per_s_per_gpu": public_tokens_per_s,
        "t4_public_implied_tflops": implied_tflops,
        "t4_public_implied_mfu": implied_tflops / T4_PEAK_TFLOPS,
        "t4_hours_8bit_swap_tta": hours_upper / INT8_SPEEDUP,
        "t4_hours_8bit_swap_tta_upper": hours_upper,
        "t4_hours_8bit_no_tta": hours_upper / 2 / INT8_SPEEDUP,
    }
    figures["t4_assumptions"] = (
        f"Gemma-2-9B 8-bit on each T4: weights {figures['t4_weights_gb_8bit']:.1f} GB (4-bit "
        f"{figures['t4_weights_gb_4bit']:.1f} GB, fp16 {figures['t4_weights_gb_fp16']:.1f} GB: no fit), activations "
        f"{figures['t4_activations_gb_8192_tokens']:.1f} GB at {BATCH_TOKENS} tokens {WIDTH_AT_BUDGET} wide, peak "
        f"{figures['t4_peak_gib_8bit']:.1f} GiB (4-bit {figures['t4_peak_gib_4bit']:.1f}) of {T4_MEMORY / GIB:.0f} GiB. "
        f"Time: the public 4-bit run (25,000 rows, 2 x T4, {PUBLIC_HOURS:.0f} h, no TTA) reads "
        f"{public_tokens_per_s:.0f} tokens/s per T4 at {mean_tokens:.0f} tokens a row (= {implied_tflops:.1f} TFLOPS, "
        f"{figures['t4_public_implied_mfu']:.0%} of the fp16 peak); swap on the second T4 doubles each T4's rows, "
        f"token-budget padding x{padding:.3f}, 8-bit assumed x{INT8_SPEEDUP} faster than 4-bit: "
        f"{figures['t4_hours_8bit_swap_tta']:.1f} h ({hours_upper:.1f} h if 8-bit is no faster; "
        f"{figures['t4_hours_8bit_no_tta']:.1f} h without TTA), plus about 5 min to load two copies; Kaggle "
        f"allows 9 h and the ensemble keeps a 1 h margin, so swap-averaging is the first thing its budget gives up."
    )
    return figures
