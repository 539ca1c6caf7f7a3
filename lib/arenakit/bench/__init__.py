"""Benchmarks that print figures: `python -m arenakit.bench` (see arenakit.bench.cli for the stages).

cli       the entry point: each stage in a fresh process, its figures and peak memory
data      load + parse + clean + folds, and the featurizer
embedder  the kit's embedder against plain SentenceTransformer.encode
lora      LoRA training and inference throughput, dynamic against fixed padding
"""
