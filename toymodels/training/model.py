"""A small decoder-only transformer: the model, its parameter counts, its FLOPs, greedy decoding.

Plain PyTorch (no Lightning, no Hydra): pre-LayerNorm blocks, positions learned, absent (NoPE) or
abacus (each digit's significance, toymodels.tasks.positions), causal attention
through ``scaled_dot_product_attention``, an output layer tied to the token embedding, and batched
greedy decoding with a key/value cache.

One ``Transformer`` holds ``members`` independent models of the same shape (a seed ensemble) with
their weights stacked on a leading axis, so that every matrix multiply of all members is one
batched ``bmm`` and small models stop paying per-operation costs once per seed. Member ``i`` is
initialised from its own seed exactly as a one-member model with that seed, and no operation mixes
members: its outputs depend on its own weights and inputs only. A one-member model takes and
returns unstacked tensors, (batch, time) → (batch, time, vocab).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}
POS_EMBEDDINGS = ("learned", "none", "abacus")


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
    # Positions: "learned" (a table indexed by sequence position), "none" (NoPE: causal attention
    # alone tells positions apart) or "abacus" (a table indexed by each digit's significance within
    # its number, toymodels.tasks.positions; the ids are given to forward()).
    pos_embedding: str = "learned"
    abacus_offset: int = 10  # abacus: largest random offset added to the digits' ids during training

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
        if self.pos_embedding not in POS_EMBEDDINGS:
            choices = ", ".join(POS_EMBEDDINGS)
            raise ValueError(f"model.pos_embedding={self.pos_embedding!r} is unknown; choose {choices}")
        if isinstance(self.abacus_offset, bool) or not isinstance(self.abacus_offset, int) or self.abacus_offset < 0:
            raise ValueError(f"model.abacus_offset={self.abacus_offset!r} must be a whole number >= 0")
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
    exactly what ``torch.utils.flop_counter`` counts. The position encoding (learned, none, abacus)
    is a look-up or nothing, so it does not change the count.
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


def position_rows(cfg: ModelConfig) -> int:
    """Rows of the position table: one per position (learned), none (NoPE), or one per abacus id: 0 for
    non-digits, 1.. for digits, up to the context plus the largest training offset."""
    return {"learned": cfg.context, "none": 0, "abacus": cfg.context + cfg.abacus_offset + 1}[cfg.pos_embedding]


def total_params(cfg: ModelConfig) -> int:
    """All parameters (the output layer shares the token embedding)."""
    return non_embedding_params(cfg) + (cfg.vocab_size + position_rows(cfg)) * cfg.d_model


def inference_flops_per_problem(cfg: ModelConfig, seq_len: int) -> float:
    """Forward FLOPs of writing one problem's target greedily with a key/value cache.

    The model processes seq_len - 1 positions (the prompt, then each target token but the last to
    predict the next). Position i costs the weight matrix multiplies (2 FLOPs per weight, output
    layer included) plus attention over the i + 1 positions the cache holds (2·(i+1)·d for the
    scores and as much for the weighted sum, per layer). A scratchpad's longer target pays for
    every token it writes. Counted separately from training FLOPs, never mixed in.
    """
    d, t = cfg.d_model, seq_len - 1
    weights = cfg.n_layer * 2 * (4 * d * d + 2 * d * cfg.d_mlp) + 2 * d * cfg.vocab_size
    attention = cfg.n_layer * 4 * d * (t * (t + 1) // 2)  # sum over i of (i + 1) keys
    return float(t * weights + attention)


def flops_6nd_per_token(cfg: ModelConfig) -> float:
    """The popular 6·N estimate per token (N = non-embedding parameters), for comparison only."""
    return 6.0 * non_embedding_params(cfg)


class StackedLinear(nn.Module):
    """`members` independent bias-free linear maps applied as one batched matmul.

    The weight is (members, in, out); an input (members, ..., in) maps to (members, ..., out).
    """

    def __init__(self, members: int, d_in: int, d_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, d_in, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, d_in = x.shape[0], x.shape[-1]
        return torch.bmm(x.reshape(k, -1, d_in), self.weight).view(*x.shape[:-1], self.weight.shape[-1])


class StackedLayerNorm(nn.Module):
    """LayerNorm with one gain and bias per member (inputs are (members, ..., d))."""

    def __init__(self, members: int, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(members, d))
        self.bias = nn.Parameter(torch.zeros(members, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        if self.weight.shape[0] == 1:  # one member: LayerNorm's fused affine
            return F.layer_norm(x, (d,), self.weight[0], self.bias[0])
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (d,)
        return torch.addcmul(self.bias.view(shape), F.layer_norm(x, (d,)), self.weight.view(shape))


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, members: int) -> None:
        super().__init__()
        self.n_head, self.impl = cfg.n_head, cfg.attn_impl
        self.qkv = StackedLinear(members, cfg.d_model, 3 * cfg.d_model)
        self.out = StackedLinear(members, cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor, cache: list | None = None, q_from: int = 0) -> torch.Tensor:
        """Attention output (members, batch, time - q_from, d) for positions q_from… (all positions still
        serve as keys and values). Members and rows share one attention batch of members·batch."""
        m, b, t, d = x.shape
        q, k, v = self.qkv(x).view(m * b, t, 3, self.n_head, d // self.n_head).permute(2, 0, 3, 1, 4)
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
        return self.out(y.transpose(1, 2).reshape(m, b, t - q_from, d))


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
    def __init__(self, cfg: ModelConfig, members: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = StackedLayerNorm(members, cfg.d_model), StackedLayerNorm(members, cfg.d_model)
        self.attn = Attention(cfg, members)
        self.mlp = nn.Sequential(
            StackedLinear(members, cfg.d_model, cfg.d_mlp),
            ACTIVATIONS[cfg.activation](),
            StackedLinear(members, cfg.d_mlp, cfg.d_model),
        )

    def forward(self, x: torch.Tensor, cache: list | None = None, q_from: int = 0) -> torch.Tensor:
        """The block's output for positions q_from… (earlier ones only feed keys and values)."""
        x = x[:, :, q_from:] + self.attn(self.ln1(x), cache, q_from)
        return x + self.mlp(self.ln2(x))


class StackedEmbedding(nn.Module):
    """One embedding table per member: weight (members, rows, d)."""

    def __init__(self, members: int, rows: int, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, rows, d))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Member i's rows for ids[i]: (members, ...) ids → (members, ..., d)."""
        members, rows, d = self.weight.shape
        if members == 1:
            return F.embedding(ids, self.weight[0])
        # One look-up in the members' tables laid end to end.
        offsets = torch.arange(members, device=ids.device).view(-1, *([1] * (ids.dim() - 1))) * rows
        return F.embedding(ids + offsets, self.weight.reshape(-1, d))


# Parameters that GPT-2 initialises with a depth-scaled standard deviation (residual projections).
_RESIDUAL_OUT = ("attn.out.weight", "mlp.2.weight")


class Transformer(nn.Module):
    """Decoder-only transformer over token ids: `members` independent models with stacked weights.

    ``seeds`` (one per member) initialise each member from its own generator, so member i of an
    ensemble starts exactly where a one-member model with seed ``seeds[i]`` starts; without seeds
    the global generator is used.
    """

    def __init__(self, cfg: ModelConfig, members: int = 1, seeds: list[int] | None = None) -> None:
        super().__init__()
        if seeds is not None and len(seeds) != members:
            raise ValueError(f"{len(seeds)} seeds for {members} members")
        self.cfg, self.members = cfg, members
        self.tok = StackedEmbedding(members, cfg.vocab_size, cfg.d_model)
        if cfg.pos_embedding != "none":  # NoPE has no position table at all
            self.pos = StackedEmbedding(members, position_rows(cfg), cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, members) for _ in range(cfg.n_layer))
        self.ln_f = StackedLayerNorm(members, cfg.d_model)
        for i in range(members):
            self._init_member(i, None if seeds is None else torch.Generator().manual_seed(int(seeds[i])))

    @torch.no_grad()
    def _init_member(self, i: int, generator: torch.Generator | None) -> None:
        """GPT-2's initialisation of member i: N(0, 0.02) matrices and embeddings, the residual
        projections scaled by 1/sqrt(2·layers) (keeps the residual stream's size independent of depth),
        LayerNorm gains 1 and biases 0."""
        for name, p in self.named_parameters():
            if name.endswith(("ln1.weight", "ln2.weight", "ln_f.weight")):
                p[i].fill_(1.0)
            elif name.endswith(".bias"):
                p[i].zero_()
            else:
                std = 0.02 / math.sqrt(2 * self.cfg.n_layer) if name.endswith(_RESIDUAL_OUT) else 0.02
                p[i].normal_(0.0, std, generator=generator)

    def forward(
        self,
        idx: torch.Tensor,
        caches: list[list] | None = None,
        start: int = 0,
        logits_from: int = 0,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (members, batch, time - logits_from, vocab) for token ids (members, batch, time) at
        positions start… (a one-member model also takes (batch, time) and returns (batch, time', vocab)).

        With logits_from > 0, the last block computes its outputs only for the positions whose
        logits are asked for (the others still give keys and values to every layer, and caches):
        evaluation needs logits only after the prompt. ``positions`` (abacus only, where it is
        required) are the position ids of the input tokens: (time,) shared by every row and member,
        (batch, time) shared by the members, or (members, batch, time).
        """
        unstacked = idx.dim() == 2
        if unstacked:
            if self.members != 1:
                raise ValueError(f"a {self.members}-member model needs inputs of shape (members, batch, time)")
            idx = idx[None]
        m, t = self.members, idx.shape[-1]
        if idx.shape[0] != m:
            raise ValueError(f"inputs for {idx.shape[0]} members given to a {m}-member model")
        if self.cfg.pos_embedding == "learned" and start + t > self.cfg.context:
            raise ValueError(f"sequence of {start + t} tokens exceeds model.context={self.cfg.context}")
        x = self.tok(idx)
        kind = self.cfg.pos_embedding
        if kind == "learned":
            x = x + self.pos.weight[:, None, start : start + t]
        elif kind == "abacus":
            x = x + self._abacus(positions, idx.shape)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i], logits_from if i == last else 0)
        x = self.ln_f(x)
        table = self.tok.weight
        logits = torch.bmm(x.reshape(m, -1, x.shape[-1]), table.transpose(1, 2)).view(*x.shape[:-1], -1)
        return logits[0] if unstacked else logits

    def _abacus(self, positions: torch.Tensor | None, shape: torch.Size) -> torch.Tensor:
        """Position embeddings of abacus ids, broadcastable to (members, batch, time, d)."""
        if positions is None:
            raise ValueError("model.pos_embedding=abacus needs the position ids of the inputs "
                             "(toymodels.tasks.positions)")
        if positions.shape[-1] != shape[-1]:
            raise ValueError(f"{positions.shape[-1]} position ids for {shape[-1]} input tokens")
        if int(positions.max()) >= self.pos.weight.shape[1]:
            raise ValueError(f"abacus id {int(positions.max())} exceeds the table's {self.pos.weight.shape[1]} rows")
        if positions.dim() == 3:  # per member
            return self.pos(positions)
        looked_up = self.pos.weight[:, positions]  # (members, time, d) or (members, batch, time, d)
        return looked_up[:, None] if positions.dim() == 1 else looked_up

    @torch.no_grad()
    def member(self, i: int, out: Transformer | None = None) -> Transformer:
        """Member i as a one-member model (its weights copied into `out` when given)."""
        if out is None:
            out = Transformer(self.cfg, 1, seeds=[0]).to(self.tok.weight.device)
        for theirs, ours in zip(out.parameters(), self.parameters()):
            theirs.copy_(ours[i : i + 1])
        return out.train(self.training)

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, n_new: int, use_cache: bool = True, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Greedy continuation (batch, n_new) of equal-length prompts (batch, time) (one-member models).

        ``positions``: the position ids of the whole row (prompt and continuation, (time + n_new,)),
        for abacus models."""
        t = prompt.shape[1]
        at = (lambda a, b: None) if positions is None else (lambda a, b: positions[..., a:b])
        if not use_cache:
            seq = prompt
            for _ in range(n_new):
                nxt = self(seq, positions=at(0, seq.shape[1]))[:, -1].argmax(-1, keepdim=True)
                seq = torch.cat([seq, nxt], 1)
            return seq[:, t:]
        caches: list[list] = [[] for _ in self.blocks]
        first = self(prompt, caches, positions=at(0, t))[:, -1].argmax(-1)
        if n_new == 1:
            return first[:, None]
        rest = self.greedy_continue(first, caches, t, n_new - 1, positions)
        return torch.cat([first[:, None], rest], 1)

    @torch.no_grad()
    def greedy_continue(
        self, token: torch.Tensor, caches: list[list], start: int, n_new: int, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Greedy tokens (batch, n_new) after `token` (batch,) at position `start`, with the caches
        holding the keys and values of positions < start (they are extended in place). ``positions``:
        the position ids of the whole row, for abacus models."""
        out = []
        for i in range(n_new):
            pos = None if positions is None else positions[..., start + i : start + i + 1]
            token = self(token[:, None], caches, start=start + i, positions=pos)[:, -1].argmax(-1)
            out.append(token)
        return torch.stack(out, 1)
