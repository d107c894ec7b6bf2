"""The sampled table softmax learns what the full one learns."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from nextword.exporter.losses import sampled_table_loss, sampling_proposal  # noqa: E402

pytestmark = pytest.mark.train


TRUTH = torch.linspace(3.0, 0.0, 40).softmax(0)


def fit_word_bias(negatives: int, steps: int = 400) -> torch.Tensor:
    """Learn only a word bias from words drawn from TRUTH; returns softmax(bias).

    negatives 0: the full table softmax; otherwise sampled, with frequency ** 0.75 as proposal.
    """
    torch.manual_seed(0)
    vocab, dim = len(TRUTH), 8
    targets = torch.nn.functional.normalize(torch.randn(vocab, dim), dim=1)
    proposal = sampling_proposal((TRUTH * 10_000).round().numpy())
    bias = torch.zeros(vocab, requires_grad=True)
    optimizer = torch.optim.Adam([bias], lr=0.05)
    predicted = torch.zeros(256, dim)
    for _ in range(steps):
        words = torch.multinomial(TRUTH, 256, replacement=True)
        if negatives:
            loss = sampled_table_loss(predicted, words, targets, bias, proposal, negatives)
        else:
            loss = torch.nn.functional.cross_entropy(predicted @ targets.T + bias, words)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return bias.detach().softmax(0)


def total_variation(p: torch.Tensor, q: torch.Tensor) -> float:
    return float((p - q).abs().sum() / 2)


def test_sampled_softmax_with_few_negatives_recovers_the_word_distribution() -> None:
    # Without the -log(expected count) correction the bias learns a distortion of TRUTH (TV 0.3).
    assert total_variation(fit_word_bias(negatives=0), TRUTH) < 0.05  # measured 0.03
    assert total_variation(fit_word_bias(negatives=64), TRUTH) < 0.1  # 0.06; uncorrected 0.3


def test_a_draw_of_the_true_word_is_not_its_own_competitor() -> None:
    targets = torch.eye(3)
    predicted = torch.tensor([[5.0, 0.0, 0.0]])
    only_word_zero = torch.tensor([1.0, 0.0, 0.0])
    loss = sampled_table_loss(predicted, torch.tensor([0]), targets, None, only_word_zero, 4)
    assert float(loss) == pytest.approx(0.0)
