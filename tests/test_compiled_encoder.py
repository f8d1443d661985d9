"""--model.compile and --model.attn_implementation change kernels, not results."""
import torch

from conftest import SAMPLE_VOCAB_SIZE, TINY_ALBERT
from datamodules.pretraining.datamodule import PretrainingRecords, collate_pretraining
from lightning_modules.albert_pretrain import AlbertPretrainModule
from lightning_modules.lamb import Lamb
from lightning_modules.optimization import decay_param_groups

CONFIG = {**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE}


def losses_of_training_steps(module: AlbertPretrainModule, batches: list[dict]) -> list[torch.Tensor]:
    optimizer = Lamb(decay_param_groups(module.model, 0.01), lr=1e-3)
    losses = []
    for batch in batches:
        loss = module(batch)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.detach())
    return losses


def sample_batches(path, count: int = 3, size: int = 8) -> list[dict]:
    records = PretrainingRecords([str(path)])
    return [collate_pretraining([records[i * size + j] for j in range(size)]) for i in range(count)]


def module_with(seed: int = 0, **options) -> AlbertPretrainModule:
    torch.manual_seed(seed)
    return AlbertPretrainModule(albert_config=CONFIG, **options)


def test_sdpa_and_eager_attention_give_the_same_losses(sample_tfrecord):
    batches = sample_batches(sample_tfrecord)
    sdpa = losses_of_training_steps(module_with(attn_implementation="sdpa"), batches)
    eager = losses_of_training_steps(module_with(attn_implementation="eager"), batches)
    torch.testing.assert_close(sdpa, eager, rtol=1e-5, atol=1e-5)
    assert module_with(attn_implementation="eager").model.config._attn_implementation == "eager"


def test_compiled_encoder_gives_the_eager_losses_and_the_same_checkpoint_keys(sample_tfrecord):
    batches = sample_batches(sample_tfrecord)
    compiled_module = module_with(compile=True)
    assert compiled_module.model.base_model._compiled_call_impl is not None  # nn.Module.compile took effect
    compiled = losses_of_training_steps(compiled_module, batches)
    eager_module = module_with()
    eager = losses_of_training_steps(eager_module, batches)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-4)
    assert list(compiled_module.state_dict()) == list(eager_module.state_dict())
    for name, value in compiled_module.state_dict().items():
        torch.testing.assert_close(value, eager_module.state_dict()[name], rtol=1e-3, atol=1e-4)
