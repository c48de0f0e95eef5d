"""The observation reconstruction loss of both trainers is CleanRL's (``ppo_trxl.py``): the decoder's layers,
``nn.BCELoss`` on a sigmoid output against the observation / 255, averaged over every element. Ours computes it
faster (channels-last activations, the last transposed convolution as a convolution and a pixel shuffle, the bias
gradients as sums, BCE from the logits in blocks of samples); these tests hold the value and the gradients to the straightforward computation with PyTorch's modules,
and the parameters to the names older checkpoints have."""
import os
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ppo_gru  # noqa: E402
import ppo_trxl  # noqa: E402


def straightforward(decoder: nn.Sequential) -> nn.Sequential:
    """CleanRL's decoder with ``decoder``'s weights: PyTorch's transposed convolutions and a final sigmoid."""
    reference = nn.Sequential(
        nn.Linear(decoder[0].in_features, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 64, 3, stride=1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, stride=2), nn.ReLU(),
        nn.ConvTranspose2d(32, 3, 8, stride=4), nn.Sigmoid()).to(decoder[0].weight.dtype)
    reference.load_state_dict(decoder.state_dict())  # same names: checkpoints made before this decoder still load
    return reference


@pytest.mark.parametrize("script", [ppo_trxl, ppo_gru], ids=["ppo_trxl", "ppo_gru"])
def test_the_loss_and_its_gradients_are_cleanrls(script):
    torch.manual_seed(0)
    decoder = script.ObservationDecoder(16).double()
    reference = straightforward(decoder)
    features = torch.randn(2, 5, 16, dtype=torch.float64)
    image = torch.randint(0, 256, (2, 5, 84, 84, 3), dtype=torch.uint8)

    loss = script.reconstruction_loss(decoder, features, image)
    expected = F.binary_cross_entropy(reference(features.reshape(10, 16)).permute(0, 2, 3, 1),
                                      image.reshape(10, 84, 84, 3).double() / 255)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    grads = torch.autograd.grad(loss, list(decoder.parameters()))
    expected_grads = torch.autograd.grad(expected, list(reference.parameters()))
    for (name, _), g, e in zip(decoder.named_parameters(), grads, expected_grads):
        assert torch.allclose(g, e, rtol=1e-9, atol=1e-12), name


def test_the_fast_transposed_convolution_equals_pytorchs_forward_and_backward():
    torch.manual_seed(1)
    slow = nn.ConvTranspose2d(5, 3, 6, stride=3).double()
    x = torch.randn(4, 5, 7, 9, dtype=torch.float64, requires_grad=True)  # not square: the axes are not swapped
    y_fast = ppo_trxl._TransposedConvToImage.apply(x, slow.weight, slow.bias, 3)
    y_slow = slow(x).permute(0, 2, 3, 1)
    assert y_fast.shape == y_slow.shape == (4, 24, 30, 3)
    assert torch.allclose(y_fast, y_slow, atol=1e-12)
    g = torch.randn_like(y_fast)
    for a, b in zip(torch.autograd.grad(y_fast, [x, slow.weight, slow.bias], g),
                    torch.autograd.grad(y_slow, [x, slow.weight, slow.bias], g)):
        assert torch.allclose(a, b, atol=1e-12)


def test_float32_agrees_with_the_straightforward_loss_within_rounding():
    torch.manual_seed(2)
    decoder = ppo_gru.ObservationDecoder(32)
    features = torch.randn(64, 32)
    image = torch.randint(0, 256, (64, 84, 84, 3), dtype=torch.uint8)
    expected = F.binary_cross_entropy(straightforward(decoder)(features).permute(0, 2, 3, 1), image.float() / 255)
    assert decoder(features).shape == (64, 84, 84, 3)
    assert ppo_gru.reconstruction_loss(decoder, features, image).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_middle_transposed_convolutions_equal_pytorchs_forward_and_backward(dtype):
    """The decoder's middle layers: PyTorch's transposed convolution, the bias gradient as a sum (channels-last input,
    as in the decoder, and a contiguous one)."""
    torch.manual_seed(3)
    slow = nn.ConvTranspose2d(6, 4, 4, stride=2).to(dtype)
    for x in (torch.randn(3, 6, 5, 7, dtype=dtype), torch.randn(3, 6, 5, 7, dtype=dtype).to(memory_format=torch.channels_last)):
        x.requires_grad_()
        y_fast = ppo_gru._TransposedConv.apply(x, slow.weight, slow.bias, 2)
        y_slow = slow(x)
        tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
        assert y_fast.shape == y_slow.shape == (3, 4, 12, 16) and torch.allclose(y_fast, y_slow, **tol)
        g = torch.randn_like(y_fast)
        for a, b in zip(torch.autograd.grad(y_fast, [x, slow.weight, slow.bias], g),
                        torch.autograd.grad(y_slow, [x, slow.weight, slow.bias], g)):
            assert torch.allclose(a, b, **tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_loss_from_logits_equals_pytorchs_also_for_extreme_logits(dtype):
    """``_MeanBCEWithLogits`` (blocks of 16 samples, the gradient made in the forward) against
    ``F.binary_cross_entropy_with_logits``: value and gradient, with logits far beyond softplus's threshold and a
    batch that is not a multiple of the block."""
    torch.manual_seed(4)
    logits = torch.randn(37, 84, 84, 3, dtype=dtype) * 4
    logits.view(-1)[:9] = torch.tensor([-200.0, -60.0, -41.0, -39.0, 0.0, 39.0, 41.0, 60.0, 200.0], dtype=dtype)
    image = torch.randint(0, 256, (37, 84, 84, 3), dtype=torch.uint8)
    image.view(-1)[:9] = torch.tensor([0, 255, 128, 0, 255, 255, 0, 17, 255], dtype=torch.uint8)
    x1, x2 = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    ours = ppo_trxl._MeanBCEWithLogits.apply(x1, image)
    theirs = F.binary_cross_entropy_with_logits(x2, image.to(dtype) / 255)
    rel = 1e-12 if dtype == torch.float64 else 1e-5
    assert ours.dtype == dtype and ours.item() == pytest.approx(theirs.item(), rel=rel)
    ours.backward(torch.tensor(3.0, dtype=dtype))  # a scaled loss scales the gradient
    theirs.backward(torch.tensor(3.0, dtype=dtype))
    assert torch.allclose(x1.grad, x2.grad, rtol=rel, atol=rel * x2.grad.abs().max().item())
