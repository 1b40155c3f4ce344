"""A small decoder-only transformer: the model, its parameter counts, its FLOPs, greedy decoding.

Plain PyTorch (no Lightning, no Hydra): pre-LayerNorm blocks, learned positions, causal attention
through ``scaled_dot_product_attention``, an output layer tied to the token embedding, and batched
greedy decoding with a key/value cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


@dataclass
class ModelConfig:
    """Shape of one family member."""

    name: str = "custom"
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 4
    d_mlp: int | None = None  # defaults to 4 * d_model
    context: int = 64  # longest sequence the position table covers
    vocab_size: int = 18
    attn_impl: str = "sdpa"  # "sdpa", or "matmul": explicit matmuls (FLOP-counter checks)
    activation: str = "gelu"  # MLP non-linearity: "gelu" or "relu" (4x cheaper on CPU, see docs/performance.md)

    def __post_init__(self) -> None:
        if self.d_mlp is None:
            self.d_mlp = 4 * self.d_model
        for key in ("d_model", "n_layer", "n_head", "d_mlp", "context", "vocab_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"model.{key}={value!r} must be a positive integer")
        if self.d_model % self.n_head:
            raise ValueError(
                f"model.d_model={self.d_model} is not divisible by model.n_head={self.n_head}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"model.activation={self.activation!r} is unknown; choose {' or '.join(ACTIVATIONS)}")
        if self.attn_impl not in ("sdpa", "matmul"):
            raise ValueError(f"model.attn_impl={self.attn_impl!r} is unknown; choose sdpa or matmul")


def training_flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token: every matrix multiply of the forward and backward pass.

    Per token and layer, the forward pass does 2 FLOPs per weight of the four attention
    projections (q, k, v, out: 4·d²) and of the MLP (2·d·d_mlp), plus the attention itself:
    scores Q·Kᵀ and the weighted sum A·V, each 2·T·d for a sequence of T positions (the full
    T×T product, as the kernels compute it; the causal mask does not skip work). The output
    layer adds 2·d·vocab. The backward pass costs twice the forward (a gradient for the input and
    one for the weight of every product), so training is 3× forward. Embedding look-ups,
    LayerNorm, softmax and element-wise ops are not matrix multiplies and are not counted —
    exactly what ``torch.utils.flop_counter`` counts.
    """
    d, t = cfg.d_model, seq_len
    per_layer = 2 * (4 * d * d + 2 * d * cfg.d_mlp) + 2 * (2 * t * d)
    forward = cfg.n_layer * per_layer + 2 * d * cfg.vocab_size
    return 3.0 * forward


def non_embedding_params(cfg: ModelConfig) -> int:
    """Parameters outside the token and position embeddings (LayerNorms included)."""
    d = cfg.d_model
    per_layer = 4 * d * d + 2 * d * cfg.d_mlp + 2 * 2 * d  # projections, MLP, two LayerNorms
    return cfg.n_layer * per_layer + 2 * d  # + final LayerNorm


def total_params(cfg: ModelConfig) -> int:
    """All parameters (the output layer shares the token embedding)."""
    return non_embedding_params(cfg) + (cfg.vocab_size + cfg.context) * cfg.d_model


def flops_6nd_per_token(cfg: ModelConfig) -> float:
    """The popular 6·N estimate per token (N = non-embedding parameters), for comparison only."""
    return 6.0 * non_embedding_params(cfg)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.impl = cfg.n_head, cfg.attn_impl
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, cache: list | None = None, q_from: int = 0) -> torch.Tensor:
        """Attention output for positions q_from… (all positions still serve as keys and values)."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, d // self.n_head).permute(2, 0, 3, 1, 4)
        causal = True
        if cache is not None:
            if cache:  # decoding: the new positions attend to everything before them
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
                causal = t > 1
            cache[:] = [k, v]
        q = q[:, :, q_from:]
        if self.impl == "matmul":
            y = _matmul_attention(q, k, v, causal)
        elif causal and q.shape[2] != k.shape[2]:
            # SDPA's is_causal aligns the mask top-left; queries that end the sequence need it bottom-right.
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=_causal_mask(q.shape[2], k.shape[2], q.device))
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out(y.transpose(1, 2).reshape(b, t - q_from, d))


def _causal_mask(tq: int, tk: int, device) -> torch.Tensor:
    """True where query i (the last tq of tk positions) may attend to key j."""
    return torch.ones(tq, tk, dtype=torch.bool, device=device).tril(tk - tq)


def _matmul_attention(q, k, v, causal: bool) -> torch.Tensor:
    # The same maths as SDPA with explicit matmuls, so FlopCounterMode can see it.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(~_causal_mask(*scores.shape[-2:], q.device), float("-inf"))
    return scores.softmax(-1) @ v


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_mlp, bias=False),
            ACTIVATIONS[cfg.activation](),
            nn.Linear(cfg.d_mlp, cfg.d_model, bias=False),
        )

    def forward(self, x: torch.Tensor, cache: list | None = None, q_from: int = 0) -> torch.Tensor:
        """The block's output for positions q_from… (earlier ones only feed keys and values)."""
        x = x[:, q_from:] + self.attn(self.ln1(x), cache, q_from)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Decoder-only transformer over token ids."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.context, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)
        # GPT-2's scaled init of the residual projections keeps the residual stream's size
        # independent of depth.
        for name, p in self.named_parameters():
            if name.endswith(("attn.out.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(
        self, idx: torch.Tensor, caches: list[list] | None = None, start: int = 0, logits_from: int = 0
    ) -> torch.Tensor:
        """Logits (batch, time - logits_from, vocab) for token ids (batch, time) at positions start…

        With logits_from > 0, the last block computes its outputs only for the positions whose
        logits are asked for (the others still give keys and values to every layer, and caches):
        evaluation needs logits only after the prompt.
        """
        t = idx.shape[1]
        if start + t > self.cfg.context:
            raise ValueError(f"sequence of {start + t} tokens exceeds model.context={self.cfg.context}")
        x = self.tok(idx) + self.pos.weight[start : start + t]
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i], logits_from if i == last else 0)
        return F.linear(self.ln_f(x), self.tok.weight)

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, n_new: int, use_cache: bool = True) -> torch.Tensor:
        """Greedy continuation (batch, n_new) of equal-length prompts (batch, time)."""
        if not use_cache:
            seq = prompt
            for _ in range(n_new):
                nxt = self(seq)[:, -1].argmax(-1, keepdim=True)
                seq = torch.cat([seq, nxt], 1)
            return seq[:, prompt.shape[1] :]
        caches: list[list] = [[] for _ in self.blocks]
        first = self(prompt, caches)[:, -1].argmax(-1)
        if n_new == 1:
            return first[:, None]
        return torch.cat([first[:, None], self.greedy_continue(first, caches, prompt.shape[1], n_new - 1)], 1)

    @torch.no_grad()
    def greedy_continue(self, token: torch.Tensor, caches: list[list], start: int, n_new: int) -> torch.Tensor:
        """Greedy tokens (batch, n_new) after `token` (batch,) at position `start`, with the caches
        holding the keys and values of positions < start (they are extended in place)."""
        out = []
        for i in range(n_new):
            token = self(token[:, None], caches, start=start + i)[:, -1].argmax(-1)
            out.append(token)
        return torch.stack(out, 1)
