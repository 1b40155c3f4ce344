"""The Grokfast-EMA gradient filter: what it adds to a gradient, and its state in a checkpoint."""

import pytest
import torch

from toymodels.training.gradfilter import GrokfastEMA


class _Module(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))


def _backward(module, grad):
    module.w.grad = torch.tensor(grad)


def test_filter_adds_lambda_times_the_ema_of_past_gradients():
    module, gf = _Module(), GrokfastEMA(alpha=0.5, lamb=2.0)
    _backward(module, [1.0, 0.0, -2.0])
    gf.on_after_backward(None, module)  # ema starts at the first gradient: g + 2 g
    assert module.w.grad.tolist() == [3.0, 0.0, -6.0]
    _backward(module, [3.0, 2.0, 0.0])
    gf.on_after_backward(None, module)  # ema = 0.5 * [1, 0, -2] + 0.5 * [3, 2, 0] = [2, 1, -1]
    assert module.w.grad.tolist() == pytest.approx([7.0, 4.0, -2.0])


def test_filter_state_round_trips_through_a_checkpoint():
    module, gf = _Module(), GrokfastEMA(alpha=0.9, lamb=1.0)
    _backward(module, [1.0, 2.0, 3.0])
    gf.on_after_backward(None, module)
    restored = GrokfastEMA(alpha=0.9, lamb=1.0)
    restored.load_state_dict(gf.state_dict())
    for filt in (gf, restored):
        _backward(module, [0.5, 0.5, 0.5])
        filt.on_after_backward(None, module)
    assert torch.equal(gf.ema[0], restored.ema[0])
