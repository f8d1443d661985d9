"""The pretraining losses: masked LM and sentence order (ALBERT's), and ELECTRA's replaced-token detection.

Replaced-token detection (Clark et al. 2020): a small generator (an ALBERT masked LM sharing the
discriminator's embeddings) fills the masked positions of a batch with tokens sampled from its own
predictions; the discriminator (the encoder being pretrained) labels every real token as original or
replaced. The discriminator's loss covers every token, not only the ~15% masked ones, which is what
makes it learn more per step at small budgets.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AlbertConfig, AlbertForMaskedLM


def masked_lm_terms(logits: torch.Tensor, batch: dict[str, torch.Tensor], prefix: str = "mlm") -> dict:
    """Loss and accuracies of MLM ``logits`` (B, P, V) at the batch's masked positions.

    Google's accuracy also counts the ~10% of targets left unchanged in the input, which copying gets
    right; ``replaced_accuracy`` counts only targets whose input was replaced ([MASK] or a random token).
    """
    weights, labels = batch["masked_lm_weights"].float(), batch["masked_lm_ids"]
    per_token = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
    weight_sum = weights.sum()
    correct = (logits.argmax(-1) == labels).float()
    replaced = weights * (batch["input_ids"].gather(1, batch["masked_lm_positions"]) != labels).float()
    return {f"{prefix}_loss": (per_token * weights.flatten()).sum() / (weight_sum + 1e-5),
            f"{prefix}_accuracy": (correct * weights).sum() / (weight_sum + 1e-5),
            f"{prefix}_replaced_accuracy": (correct * replaced).sum() / (replaced.sum() + 1e-5)}


def sentence_order_terms(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict:
    labels = batch["next_sentence_labels"].view(-1)
    return {"sop_loss": F.cross_entropy(logits, labels), "sop_accuracy": (logits.argmax(-1) == labels).float().mean()}


def gather_positions(hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(B, L, H) at (B, P) positions -> (B, P, H): heads run only there (Google's ``gather_indexes``)."""
    return hidden.gather(1, positions.unsqueeze(-1).expand(-1, -1, hidden.size(-1)))


def generator_config(config: AlbertConfig, size: float) -> AlbertConfig:
    """The discriminator's config with hidden, heads and intermediate sizes scaled by ``size`` (ELECTRA: 1/4
    to 1/2 work best; a generator as strong as the discriminator makes the task too hard), the same
    embeddings (size, vocabulary, positions) so that the two can share them."""
    fields = config.to_dict()
    heads = max(1, round(config.num_attention_heads * size))
    head_dim = max(1, round(config.hidden_size * size / heads))
    fields.update(hidden_size=heads * head_dim, num_attention_heads=heads,
                  intermediate_size=max(1, round(config.intermediate_size * size)))
    return AlbertConfig(**fields)


def build_generator(discriminator: torch.nn.Module, config: AlbertConfig, size: float) -> AlbertForMaskedLM:
    """A masked-LM generator whose embeddings are the discriminator's (the same module) and whose output
    layer is tied to the shared word embeddings."""
    generator = AlbertForMaskedLM(generator_config(config, size))
    generator.albert.embeddings = discriminator.albert.embeddings
    generator.predictions.decoder.weight = discriminator.albert.embeddings.word_embeddings.weight
    return generator


class ReplacedTokenHead(torch.nn.Module):
    """ELECTRA's discriminator head: dense, activation, one logit per token (replaced or not)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.dense = torch.nn.Linear(hidden_size, hidden_size)
        self.prediction = torch.nn.Linear(hidden_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.prediction(F.gelu(self.dense(hidden), approximate="tanh")).squeeze(-1)


def corrupt_with_samples(batch: dict[str, torch.Tensor], generator_logits: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's input with a token sampled from the generator at each real masked position, and which
    tokens now differ from the original text (a sample equal to the original counts as original).

    Sampling draws from torch's global generator, which the checkpoint's RNG state restores on resume.
    """
    input_ids, positions = batch["input_ids"], batch["masked_lm_positions"]
    real = batch["masked_lm_weights"] > 0  # padded prediction slots point at position 0 and change nothing
    with torch.no_grad():
        probs = torch.softmax(generator_logits.float(), dim=-1)
        samples = torch.multinomial(probs.flatten(0, 1), 1).view_as(positions)
    current = input_ids.gather(1, positions)
    corrupted = input_ids.scatter(1, positions, torch.where(real, samples, current))
    original = input_ids.scatter(1, positions, torch.where(real, batch["masked_lm_ids"], current))
    return corrupted, corrupted != original


def replaced_token_terms(logits: torch.Tensor, replaced: torch.Tensor, input_mask: torch.Tensor) -> dict:
    """Binary cross-entropy over the real tokens, accuracy, the share of replaced tokens detected, and the share
    of real tokens replaced (whose binary entropy is the loss of the best constant guess)."""
    real = input_mask.float()
    target = replaced.float()
    per_token = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
    predicted = (logits > 0).float()
    return {"rtd_loss": (per_token * real).sum() / real.sum(),
            "rtd_accuracy": ((predicted == target).float() * real).sum() / real.sum(),
            "rtd_replaced_recall": (predicted * target).sum() / (target.sum() + 1e-5),
            "rtd_replaced_share": (target * real).sum() / real.sum()}
