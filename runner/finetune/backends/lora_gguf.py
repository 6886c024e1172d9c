"""Write a PEFT LoRA adapter as a llama.cpp LoRA GGUF (what `llama_cpp.server --lora_path` loads).

llama.cpp's own `convert_lora_to_gguf.py` ships only in the llama-cpp-python sdist and cannot be imported, so this
module writes the few things llama.cpp reads itself (`llama-adapter.cpp`): `general.type=adapter`,
`adapter.type=lora`, `adapter.lora.alpha`, and a pair `<tensor>.weight.lora_a` / `.lora_b` per adapted weight.

Conventions (checked against `convert_lora_to_gguf.py` and proven by serving the file):
- PEFT's `lora_A` is `(rank, in)` and `lora_B` is `(out, rank)`; they are written unchanged (numpy shape order),
  which gives ggml `a->ne = [in, rank]`, `b->ne = [rank, out]`: what llama.cpp's shape check expects.
- llama.cpp scales by `alpha / rank`, like PEFT without rsLoRA.
- The llama GGUF stores `attn_q` / `attn_k` with their output rows permuted for its rotary layout (transformers
  undoes that when it loads a GGUF); the permutation acts on output rows only, so it is applied to `lora_B`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

ARCH = "llama"


@dataclass(frozen=True)
class LoraPair:
    """One adapted linear layer: `W' = W + (alpha / rank) * B @ A`."""

    a: FloatArray
    """(rank, in_features)"""
    b: FloatArray
    """(out_features, rank)"""


@dataclass(frozen=True)
class LlamaShape:
    """The base model hyperparameters the tensor names and the q/k permutation depend on."""

    n_layers: int
    n_head: int
    n_kv_head: int


def permute_rows(rows: FloatArray, n_head: int) -> FloatArray:
    """llama.cpp's q/k permutation (`convert_hf_to_gguf.LlamaModel.permute`) applied to the rows of `rows`."""
    out = rows.shape[0]
    return np.ascontiguousarray(
        rows.reshape(n_head, 2, out // n_head // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)
    )


@functools.cache
def _name_map(n_layers: int) -> gguf.TensorNameMap:
    return gguf.TensorNameMap(gguf.MODEL_ARCH.LLAMA, n_layers)  # ~6 ms to build: once per export, not per tensor


def gguf_name(hf_module: str, shape: LlamaShape) -> str:
    """`model.layers.3.self_attn.q_proj` -> `blk.3.attn_q.weight`."""
    name = _name_map(shape.n_layers).get_name(hf_module)
    if name is None:
        raise ValueError(f"no llama.cpp tensor for {hf_module!r}")
    return f"{name}.weight"


def write_lora_gguf(path: Path, pairs: Mapping[str, LoraPair], alpha: float, shape: LlamaShape) -> None:
    """Write `pairs` (keyed by transformers module name, e.g. `model.layers.0.mlp.up_proj`) to `path`."""
    writer = gguf.GGUFWriter(str(path), arch=ARCH)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for module in sorted(pairs):
        pair = pairs[module]
        if pair.a.shape[0] != pair.b.shape[1]:
            raise ValueError(f"{module}: lora_A {pair.a.shape} and lora_B {pair.b.shape} disagree on the rank")
        name = gguf_name(module, shape)
        b = pair.b
        if name.endswith(".attn_q.weight"):
            b = permute_rows(b, shape.n_head)
        elif name.endswith(".attn_k.weight"):
            b = permute_rows(b, shape.n_kv_head)
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(pair.a, dtype=np.float32))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
