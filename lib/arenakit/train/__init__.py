"""Training outside notebooks: `python -m arenakit.train lora ...` (see __main__) and the run it shares with the notebook.

lora      LoRATrainingRun: the deberta_lora notebook's work, for the notebook and the command alike
configs/  accelerate config files: one GPU, DeepSpeed ZeRO-2 on 4 GPUs (a 9B LoRA on 4 x A100)
"""

__all__ = ["lora"]
