"""Property pretraining (the McGill paper's models 3 and 4): an encoder learns an LLM judge's ratings, then is fine-tuned.

    python -m arenakit.annotate --data-dir data --out build/annotations.jsonl --base-url ... --model ...
    python -m arenakit.train properties --annotations build/annotations.jsonl --data-dir data \\
        --backbone microsoft/deberta-v3-small --out build/properties-deberta
    # then any LoRA model on it: the first 3 blocks (and the embeddings) stay frozen by default
    python -m arenakit.train lora --data-dir data --out build/run -p backbone=build/properties-deberta

Rows are prompt + one response, as the judge read them, formatted and cut by the kit's formatter
exactly as the Siamese model formats each side (arenakit.models.lora.siamese_inputs): every
distinct response of train.csv and test.csv with an ok record of the chosen judge. The encoder's
token states are mean-pooled; one linear head per property reads the pooled vector: 4 classes for
a 0-3 rating, 2 for a yes/no. The loss is each property's cross-entropy over the rows that have its
rating (a null rating is masked), averaged over the properties present in the batch.

The output folder is a backbone folder (config.json, weights, tokenizer) that `backbone=` takes,
plus the heads' weights and PROPERTIES_MARKER (what it learnt from, and the held-out accuracy per
property against always answering the most common rating), whose presence makes freeze_layers
default to 3.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from arenakit.core.atomic import write_folder
from arenakit.core.settings import boolean, check_settings, integer, real, text
from arenakit.data.annotations import choose_source, read_annotations, response_keys
from arenakit.data.competition import load_competition
from arenakit.data.taxonomy import KIND_VALUES, load_taxonomy
from arenakit.inputs.backbones import resolve_backbone
from arenakit.models.lora.backbone import PAPER_FROZEN_LAYERS, PROPERTIES_MARKER, load_tokenizer
from arenakit.models.lora.batching import pad_batch
from arenakit.models.lora.inputs import PROMPT_SHARE
from arenakit.models.lora.optim import make_optimizer
from arenakit.models.lora.siamese import load_encoder, mean_pool
from arenakit.models.lora.siamese_inputs import siamese_ids

HEADS_FILE = "property_heads.safetensors"
MISSING = -1  # a target with no rating: masked out of the loss


@dataclass
class PretrainSettings:
    max_length: int = 512  # tokens per row (prompt + one response), specials included
    prompt_share: float = PROMPT_SHARE
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    valid_fraction: float = 0.1  # prompts held out to report each property's accuracy; 0: none
    seed: int = 42
    device: str = "auto"
    progress: bool = True


DECLARED = {
    "max_length": integer(8),
    "prompt_share": real(0, 1, above=True),
    "epochs": integer(1),
    "batch_size": integer(1),
    "learning_rate": real(0, above=True),
    "weight_decay": real(0),
    "warmup_ratio": real(0, 1),
    "valid_fraction": real(0, 0.5),
    "seed": integer(0),
    "device": text(),
    "progress": boolean(),
}


@dataclass
class PropertyRows:
    """The rated responses: token ids, a (rows, properties) target matrix (MISSING where unrated), their prompts."""

    ids: list[list[int]]
    targets: np.ndarray
    prompts: list[str]


def rated_rows(
    frames: list[pd.DataFrame], records: dict, source, properties, tokenizer, settings: PretrainSettings
) -> PropertyRows:
    """Every distinct response of the frames with an ok record of `source`, tokenized as a Siamese side."""
    ids, targets, prompts, seen = [], [], [], set()
    for frame in frames:
        keys = {side: response_keys(frame, side, source.key_tag, source.judge) for side in "ab"}
        chosen = {side: [] for side in "ab"}
        for side in "ab":
            for row, key in enumerate(keys[side]):
                record = records.get(key)
                if key in seen or record is None or record["outcome"] != "ok":
                    continue
                seen.add(key)
                chosen[side].append(row)
                ratings = record.get("ratings") or {}
                targets.append([_target(ratings.get(p.name), p.values) for p in properties])
        rows = sorted(set(chosen["a"]) | set(chosen["b"]))
        if not rows:
            continue
        subset = frame.iloc[rows].reset_index(drop=True)
        side_ids = dict(zip("ab", siamese_ids(subset, tokenizer, settings.max_length, settings.prompt_share)))
        position = {row: index for index, row in enumerate(rows)}
        for side in "ab":
            ids.extend(side_ids[side][position[row]] for row in chosen[side])
            prompts.extend(frame["prompt"].iat[row] for row in chosen[side])
    return PropertyRows(ids, np.asarray(targets, np.int64).reshape(len(ids), len(properties)), prompts)


def _target(value, allowed) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value in allowed else MISSING


class PropertyModel(nn.Module):
    """The encoder, mean pooling, and one linear head per property (4-way rating, 2-way yes/no)."""

    def __init__(self, encoder: nn.Module, n_classes: list[int]):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleList(nn.Linear(encoder.config.hidden_size, n) for n in n_classes)

    def forward(self, input_ids, attention_mask) -> list[torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = mean_pool(hidden, attention_mask)
        return [head(pooled) for head in self.heads]


def property_loss(logits: list[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
    """Each property's cross-entropy over its rated rows, averaged over the properties rated in the batch."""
    losses = []
    for index, property_logits in enumerate(logits):
        present = targets[:, index] != MISSING
        if present.any():
            losses.append(nn.functional.cross_entropy(property_logits[present].float(), targets[present, index]))
    if not losses:
        return logits[0].sum() * 0.0  # a batch without any rating: no gradient, the step is harmless
    return torch.stack(losses).mean()


def _split(prompts: list[str], fraction: float, seed: int) -> np.ndarray:
    """Held-out rows, whole prompts at a time (a prompt's responses share most of their text)."""
    if fraction <= 0:
        return np.zeros(len(prompts), bool)
    unique = sorted(set(prompts))
    held = set(np.random.default_rng(seed).permutation(unique)[: max(1, int(round(fraction * len(unique))))])
    valid = np.array([p in held for p in prompts], bool)
    return valid if 0 < valid.sum() < len(prompts) else np.zeros(len(prompts), bool)


def _accuracy(model: PropertyModel, rows: PropertyRows, index: np.ndarray, device: str, batch_size: int) -> np.ndarray:
    """Per property: the share of held-out rated rows whose rating the model predicts (NaN: none rated)."""
    model.eval()
    predictions = []
    with torch.no_grad():
        for start in range(0, len(index), batch_size):
            batch = pad_batch([rows.ids[i] for i in index[start : start + batch_size]], model.pad_id)
            logits = model(**{k: v.to(device) for k, v in batch.items()})
            predictions.append(torch.stack([x.argmax(-1) for x in logits], dim=1).cpu().numpy())
    model.train()
    predicted, targets = np.concatenate(predictions), rows.targets[index]
    rated = targets != MISSING
    with np.errstate(invalid="ignore"):
        return ((predicted == targets) & rated).sum(axis=0) / rated.sum(axis=0)


def _majority_accuracy(train_targets: np.ndarray, valid_targets: np.ndarray) -> np.ndarray:
    scores = []
    for column in range(train_targets.shape[1]):
        seen = train_targets[:, column][train_targets[:, column] != MISSING]
        held = valid_targets[:, column][valid_targets[:, column] != MISSING]
        if not len(held):
            scores.append(np.nan)
            continue
        common = np.bincount(seen).argmax() if len(seen) else 0
        scores.append(float((held == common).mean()))
    return np.asarray(scores)


def pretrain_properties(
    annotations: Path | str,
    backbone: str,
    out: Path | str,
    data_dir: Path | str,
    judge: str | None = None,
    taxonomy: Path | str | None = None,
    settings: PretrainSettings | None = None,
) -> dict:
    """Pretrain the backbone on the file's ratings and write the backbone folder `out`; returns its marker's content."""
    settings = settings or PretrainSettings()
    check_settings(vars(settings), DECLARED, "the property pretraining's settings")
    torch.manual_seed(settings.seed)
    records = read_annotations(annotations)
    source = choose_source(records, annotations, judge)
    taxonomy = load_taxonomy(taxonomy)
    if source.key_tag.split("/")[0] != taxonomy.tag:
        raise ValueError(
            f"{annotations}: the chosen ratings ({source.name!r}) were made under taxonomy {source.key_tag!r}, "
            f"but the taxonomy given is {taxonomy.tag!r}; pass --taxonomy with the file they were made with"
        )
    path = resolve_backbone(backbone)
    tokenizer = load_tokenizer(path)
    competition = load_competition(data_dir)
    rows = rated_rows([competition.train, competition.test], records, source, taxonomy.properties, tokenizer, settings)
    if not len(rows.ids):
        raise ValueError(
            f"{annotations}: none of the responses of {data_dir} (train.csv, test.csv) has an ok record of "
            f"{source.name!r}; annotate that folder, or pass the --data-dir the file was annotated from"
        )
    device = settings.device if settings.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    encoder = load_encoder(path, keep_pooler=True)
    model = PropertyModel(encoder, [len(KIND_VALUES[p.kind]) for p in taxonomy.properties]).to(device)
    model.pad_id = tokenizer.pad_token_id
    valid = _split(rows.prompts, settings.valid_fraction, settings.seed)
    train_index, valid_index = np.flatnonzero(~valid), np.flatnonzero(valid)
    history = _train(model, rows, train_index, settings, device)
    report = {
        "properties": [{"name": p.name, "kind": p.kind} for p in taxonomy.properties],
        "taxonomy": taxonomy.tag,
        "judge": source.judge,
        "key_tag": source.key_tag,
        "annotations": str(annotations),
        "base_backbone": backbone,
        "rows": {"train": len(train_index), "valid": len(valid_index)},
        "settings": vars(settings),
        "history": history,
        "freeze_layers_default": PAPER_FROZEN_LAYERS,
    }
    if len(valid_index):
        accuracy = _accuracy(model, rows, valid_index, device, settings.batch_size)
        majority = _majority_accuracy(rows.targets[train_index], rows.targets[valid_index])
        report["valid_accuracy"] = {
            p.name: {"model": _number(a), "most_common": _number(m)}
            for p, a, m in zip(taxonomy.properties, accuracy, majority)
        }
    _save(model, tokenizer, Path(out), report)
    return report


def _number(value) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)


def _train(model: PropertyModel, rows: PropertyRows, index: np.ndarray, settings: PretrainSettings, device: str):
    rng = np.random.default_rng(settings.seed)
    steps = settings.epochs * math.ceil(len(index) / settings.batch_size)
    params = [param for param in model.parameters() if param.requires_grad]
    optimizer = make_optimizer(params, "adamw", settings.learning_rate, settings.weight_decay)
    warmup = max(1, int(settings.warmup_ratio * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup)))
    )
    # bf16 autocast where the GPU has it; fp32 elsewhere (a T4 then runs fp32: slower, never unstable).
    autocast = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    model.train()
    history, started = [], time.time()
    bar = tqdm(total=steps, unit="step", disable=not settings.progress, dynamic_ncols=True)
    for epoch in range(settings.epochs):
        losses, order = [], rng.permutation(index)
        for start in range(0, len(index), settings.batch_size):
            batch_rows = order[start : start + settings.batch_size]
            batch = {k: v.to(device) for k, v in pad_batch([rows.ids[i] for i in batch_rows], model.pad_id).items()}
            targets = torch.as_tensor(rows.targets[batch_rows], device=device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                loss = property_loss(model(**batch), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", refresh=False)
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "seconds": time.time() - started})
    bar.close()
    return history


def _save(model: PropertyModel, tokenizer, out: Path, report: dict) -> None:
    """The backbone folder: encoder (config, weights), tokenizer, heads and the marker, written atomically."""
    from safetensors.torch import save_file

    def write(temporary: Path) -> None:
        temporary.mkdir(parents=True, exist_ok=True)
        model.encoder.save_pretrained(str(temporary))
        tokenizer.save_pretrained(str(temporary))
        heads = {k: v.detach().cpu().contiguous() for k, v in model.heads.state_dict().items()}
        save_file(heads, str(temporary / HEADS_FILE))
        (temporary / PROPERTIES_MARKER).write_text(json.dumps(report, indent=2, default=str))

    write_folder(out, write)


def add_command(models) -> None:
    """The `properties` subcommand of python -m arenakit.train."""
    defaults = PretrainSettings()
    command = models.add_parser(
        "properties",
        help="pretrain an encoder on LLM-judged properties (python -m arenakit.annotate's records)",
        description="Pretrain an encoder on an annotation file's ratings (one head per property) and save it as "
        "a backbone folder that backbone= takes; fine-tuning it then freezes its first 3 blocks by default.",
    )
    command.add_argument("--annotations", required=True, help="the JSONL written by python -m arenakit.annotate")
    command.add_argument(
        "--backbone", required=True, help="an encoder: a name (minilm, microsoft/deberta-v3-small) or a folder"
    )
    command.add_argument("--out", required=True, help="the backbone folder to write")
    command.add_argument("--data-dir", help="the competition folder that was annotated (default: the Kaggle input's)")
    command.add_argument("--judge", help="whose ratings, when the file holds several (a judge, or 'judge|key tag')")
    command.add_argument("--taxonomy", help="the taxonomy JSON the ratings were made under (default: the paper's)")
    for name, value in vars(defaults).items():
        if name == "progress":
            continue
        command.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value, help=f"default: {value}")
    command.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_command(args) -> None:
    from arenakit.core.paths import COMPETITION_FILES, find_input_dir

    data_dir = args.data_dir or find_input_dir(COMPETITION_FILES)
    if data_dir is None:
        raise FileNotFoundError(
            "python -m arenakit.train properties: pass --data-dir, the competition folder whose responses were "
            "annotated (the ratings are keyed by their texts)"
        )
    settings = PretrainSettings(
        **{name: getattr(args, name) for name in vars(PretrainSettings()) if name != "progress"},
        progress=not args.no_progress,
    )
    report = pretrain_properties(
        args.annotations, args.backbone, args.out, data_dir, args.judge, args.taxonomy, settings
    )
    print(f"wrote {args.out}: {report['rows']['train']} responses trained on, {report['rows']['valid']} held out")
    for name, scores in report.get("valid_accuracy", {}).items():
        print(f"  {name:24s} accuracy {scores['model']}  (most common rating: {scores['most_common']})")
