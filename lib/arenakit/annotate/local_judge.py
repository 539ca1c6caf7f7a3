"""A judge that is a local Hugging Face causal LM, loaded through the kit's decoder loading (dtype, 8-bit/4-bit).

    judge = LocalJudge("Qwen/Qwen2.5-7B-Instruct", quantize="4bit", device="cuda:0")

It generates greedily, one response at a time: fine for a few thousand responses or a machine
without a server. For throughput serve the model with vLLM (continuous batching) and point
--base-url at it. The chat template of the tokenizer formats the messages when it has one; a
tokenizer without one (a base model) reads them as "System: ...", "User: ...", "Assistant: ".
"""

from __future__ import annotations

from pathlib import Path

from arenakit.annotate.judges import Reply
from arenakit.annotate.prompt import fold_system
from arenakit.models.lora.backbone import load_tokenizer, loading_options, quiet_transformers, resolve_dtype


def local_judge_name(model: Path | str) -> str:
    """The judge as records name it (part of the key): the model's folder or hub name, without the path above it."""
    return f"local:{Path(str(model)).name or model}"


class LocalJudge:
    def __init__(
        self,
        model: Path | str,
        quantize: str | None = None,
        device: str = "cpu",
        dtype: str = "auto",
        max_tokens: int = 1024,
    ):
        from transformers import AutoModelForCausalLM

        quiet_transformers()
        self.device = device
        self.max_tokens = max_tokens
        self.name = local_judge_name(model)
        self.tokenizer = load_tokenizer(model)
        options = loading_options(model, quantize, device, resolve_dtype(dtype, device, decoder=True))
        self.model = AutoModelForCausalLM.from_pretrained(str(model), **options)
        if not quantize:
            self.model.to(device)
        self.model.eval()

    def _input_ids(self, messages: list[dict]) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            from jinja2.exceptions import TemplateError

            try:
                text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            except TemplateError:  # a template without a system role (Gemma's) raises
                text = self.tokenizer.apply_chat_template(
                    fold_system(messages), add_generation_prompt=True, tokenize=False
                )
            # The template writes the specials (BOS included) as text.
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant: "
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        return bos + self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def complete(self, messages: list[dict]) -> Reply:
        import torch

        ids = self._input_ids(messages)
        with torch.inference_mode():
            output = self.model.generate(
                torch.tensor([ids], device=self.device),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=self.device),
                max_new_tokens=self.max_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = output[0, len(ids) :].tolist()
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        finish = "stop" if new and new[-1] == self.tokenizer.eos_token_id else "length"
        return Reply(text, finish, False, len(ids), len(new))
