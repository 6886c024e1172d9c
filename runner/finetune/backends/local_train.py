"""The local backend's training child: LoRA on the embedded SmolLM2, exported as a llama.cpp adapter GGUF.

Run by `LocalBackend.wait` as `python -m runner.finetune.backends.local_train ATTEMPT/request.json` (a
`TrainConfig`). It appends one JSON line per optimizer step to `ATTEMPT/metrics.jsonl`, writes a user-facing
failure to `ATTEMPT/error.txt` (exit 2), and on success publishes `adapter.gguf` + `result.json`.
Exit codes: 0 done, 1 crash (traceback in the log), 2 bad job, 3 parent gone.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForCausalLM, AutoTokenizer

from runner.errors import FlywheelError
from runner.finetune.backends.local_data import IGNORE, Example, dpo_pairs, sft_examples
from runner.finetune.backends.local_job import ADAPTER, NAME, TrainConfig, publish
from runner.finetune.backends.lora_gguf import LlamaShape, LoraPair, write_lora_gguf
from runner.models.local import base_weights

Batch = dict[str, torch.Tensor]


class ParentGone(Exception):
    """The process that started training has exited; nobody will read the result."""


def load_tokenizer() -> Any:
    """The tokenizer (with its chat template) stored in the embedded GGUF."""
    gguf = base_weights()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def load_model(device: torch.device) -> Any:
    """The embedded model in float32 (transformers dequantizes the GGUF on load)."""
    gguf = base_weights()
    model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain float32 now, but the GGUF quantizer stays attached and makes transformers and peft
    # treat the model as quantized (read-only); drop it.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model.to(device)


def training_units(config: TrainConfig, tok: Any) -> list[tuple[Example, ...]]:
    """sft: one example per unit; dpo: (chosen, rejected) per unit."""
    path = Path(config.training_file)
    if config.method == "dpo":
        return [(p.chosen, p.rejected) for p in dpo_pairs(path, tok)]
    return [(e,) for e in sft_examples(path, tok)]


def collate(examples: Sequence[Example], pad_id: int, device: torch.device) -> Batch:
    """Right-pad to the longest example; padding is masked out of attention and loss."""
    width = max(len(e.input_ids) for e in examples)
    ids = [list(e.input_ids) + [pad_id] * (width - len(e.input_ids)) for e in examples]
    labels = [list(e.labels) + [IGNORE] * (width - len(e.labels)) for e in examples]
    mask = [[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in examples]
    return {
        "input_ids": torch.tensor(ids, device=device),
        "attention_mask": torch.tensor(mask, device=device),
        "labels": torch.tensor(labels, device=device),
    }


def sequence_logps(model: Any, batch: Batch) -> torch.Tensor:
    """Sum of the log-probabilities of each sequence's labelled tokens."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE
    logps = torch.gather(logits.log_softmax(-1), 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logps * keep).sum(-1)


def dpo_loss(model: PeftModel, batch: Batch, beta: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Sigmoid DPO. `batch` holds n chosen then n rejected sequences; the reference is the model with its
    adapter disabled, so no second copy of the weights is kept."""
    n = batch["input_ids"].shape[0] // 2
    policy = sequence_logps(model, batch)
    with torch.no_grad(), model.disable_adapter():
        reference = sequence_logps(model, batch)
    chosen, rejected = beta * (policy[:n] - reference[:n]), beta * (policy[n:] - reference[n:])
    loss = -F.logsigmoid(chosen - rejected).mean()
    extra = {
        "reward_margin": round(float((chosen - rejected).mean()), 6),
        "reward_accuracy": round(float((chosen > rejected).float().mean()), 6),
    }
    return loss, extra


def lora_pairs(model: PeftModel) -> dict[str, LoraPair]:
    """The trained A/B matrices of every adapted layer, keyed by the base model's module name."""
    pairs = {}
    for name, module in model.named_modules():
        layer: Any = module
        if isinstance(module, LoraLayer) and "default" in layer.lora_A:
            a = layer.lora_A["default"].weight.detach().float().cpu().numpy()
            b = layer.lora_B["default"].weight.detach().float().cpu().numpy()
            pairs[name.removeprefix("base_model.model.")] = LoraPair(a=a, b=b)
    return pairs


def batches(n_items: int, batch_size: int, rng: random.Random) -> list[list[int]]:
    order = list(range(n_items))
    rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, n_items, batch_size)]


HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate", "beta", "lora_rank", "lora_alpha", "seed")


def train(config: TrainConfig, attempt: Path) -> None:
    """Train one job deterministically (seeded init and order), export its adapter, publish it."""
    started = time.monotonic()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    tok = load_tokenizer()
    units = training_units(config, tok)  # before the model: bad data fails in seconds
    _note(f"{len(units)} training examples ready", started)
    base = load_model(device)
    _note(f"base model loaded on {device.type} ({torch.get_num_threads()} threads)", started)
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                      target_modules="all-linear", task_type="CAUSAL_LM")  # fmt: skip
    model: PeftModel = get_peft_model(base, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rng = random.Random(config.seed)
    metrics: list[dict[str, Any]] = []
    trained_tokens = 0
    with (attempt / "metrics.jsonl").open("w", encoding="utf-8") as log:
        for epoch in range(1, config.n_epochs + 1):
            for idx in batches(len(units), config.batch_size, rng):
                if os.getppid() != config.parent_pid:
                    raise ParentGone
                chunk = [units[i] for i in idx]
                extra: dict[str, float] = {}
                if config.method == "dpo":  # all chosen, then all rejected
                    batch = collate([u[0] for u in chunk] + [u[1] for u in chunk], pad_id, device)
                    loss, extra = dpo_loss(model, batch, config.beta)
                else:
                    batch = collate([u[0] for u in chunk], pad_id, device)
                    loss = model(**batch).loss
                torch.autograd.backward(loss)  # typed, unlike Tensor.backward
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                trained_tokens += int(batch["attention_mask"].sum())
                row = {"step": len(metrics) + 1, "epoch": epoch, "train_loss": round(loss.item(), 6), **extra}
                metrics.append(row)
                log.write(json.dumps(row) + "\n")
                log.flush()
                print(json.dumps(row), flush=True)

    _note("training done", started)
    cfg = base.config
    shape = LlamaShape(cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads)
    write_lora_gguf(attempt / ADAPTER, lora_pairs(model), config.lora_alpha, shape)
    record = {
        "backend": NAME,
        "job_id": config.job_id,
        "recipe_hash": config.recipe_hash,
        "fine_tuned_model": config.fine_tuned_model,
        "method": config.method,
        "metrics": metrics,
        "trained_tokens": trained_tokens,
        "examples": len(units),
        "hyperparameters": {k: v for k, v in config.to_json().items() if k in HYPERPARAMETERS},
        "device": device.type,
        "torch": torch.__version__,
        "train_seconds": round(time.monotonic() - started, 1),
    }
    publish(Path(config.work_dir), attempt / ADAPTER, record)
    _note("adapter published", started)


def _note(message: str, started: float) -> None:
    print(f"[{time.monotonic() - started:7.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str]) -> int:
    request = Path(argv[0])
    config = TrainConfig.from_json(json.loads(request.read_text(encoding="utf-8")))
    try:
        train(config, request.parent)
    except FlywheelError as exc:  # bad data, or the embedded model missing: the message is the whole story
        (request.parent / "error.txt").write_text(f"{exc}\n", encoding="utf-8")
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ParentGone:
        print("the process that started training is gone; stopping", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
