"""scalediag's Hugging Face Trainer callback on a tiny BERT built from a config (no download): a sequence
classification task whose class is given by the token after [CLS] (two tokens per class, the rest noise); the same losses with and without
the callback, healthy at lr 3e-3 (test accuracy 1.0 after 6 epochs), a failing cause at lr 1."""

from __future__ import annotations

import warnings

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="transformers is not installed (pip install -e '.[test]')")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate (pip install -e '.[test]')")

from scalediag.explain.chain import explain  # noqa: E402
from scalediag.integrations.transformers import WatchCallback  # noqa: E402
from scalediag.record import read  # noqa: E402

VOCAB, LENGTH, CLASSES, EPOCHS = 100, 12, 4, 6


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(4, VOCAB, (n, LENGTH), generator=g)
        self.ids[:, 0] = 1  # [CLS]
        self.ids[:, 1] = torch.randint(4, 4 + 2 * CLASSES, (n,), generator=g)  # two tokens per class
        self.labels = (self.ids[:, 1] - 4) // 2

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(LENGTH, dtype=torch.long),
                "labels": self.labels[i]}


def accuracy(prediction):
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


def train(tmp_path, lr, watched, accumulate=1):
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=LENGTH, num_labels=CLASSES)
    model = BertForSequenceClassification(config)
    args = TrainingArguments(output_dir=str(tmp_path / "hf"), per_device_train_batch_size=32, num_train_epochs=EPOCHS,
                             learning_rate=lr, eval_strategy="epoch", logging_strategy="epoch", save_strategy="no",
                             report_to="none", use_cpu=True, seed=0, disable_tqdm=True,
                             gradient_accumulation_steps=accumulate)
    callbacks = [WatchCallback(log_dir=tmp_path / "run", every=4)] if watched else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(model=model, args=args, train_dataset=Tokens(512, 0), eval_dataset=Tokens(128, 1),
                          compute_metrics=accuracy, callbacks=callbacks)
        trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return losses, (read(tmp_path / "run" / "metrics.json") if watched else None)


def test_the_callback_changes_no_loss_and_a_healthy_bert_is_healthy(tmp_path):
    plain, _ = train(tmp_path / "plain", 3e-3, False)
    watched, record = train(tmp_path / "watched", 3e-3, True)
    assert watched == plain
    assert record["status"] == "completed" and len(record["history"]) == EPOCHS and record["steps"] == 16 * EPOCHS
    last = record["history"][-1]
    assert None not in (last["train_loss"], last["test_loss"], last["test_acc"])
    assert "bert.encoder.layer.0.attention.self.query" in record["config"]["model"]["layers"]
    assert explain(record).cause == "healthy", explain(record).causes


def test_gradient_accumulation_changes_no_loss_and_counts_optimizer_steps(tmp_path):
    plain, _ = train(tmp_path / "plain", 3e-3, False, accumulate=2)
    watched, record = train(tmp_path / "watched", 3e-3, True, accumulate=2)
    assert watched == plain
    assert record["steps"] == 8 * EPOCHS  # 16 batches per epoch, one optimizer step per two


def test_a_bert_at_lr_1_gets_a_failing_cause(tmp_path):
    _, record = train(tmp_path, 1.0, True)
    cause = explain(record).cause
    assert cause not in ("healthy",), explain(record).causes
