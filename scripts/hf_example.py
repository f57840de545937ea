"""scalediag's Hugging Face Trainer callback on a 2-layer BERT built from a config (nothing downloaded): a synthetic
4-class task where the token after [CLS] gives the class, 6 epochs, then the report.

    python scripts/hf_example.py              # lr 3e-3: healthy
    python scripts/hf_example.py --lr 1       # lr 1: the run fails, and the report says why
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import warnings
from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from scalediag.integrations.transformers import WatchCallback

VOCAB, LENGTH, CLASSES = 100, 12, 4


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


def train(lr: float, run_dir: Path, watched: bool = True, epochs: int = 6) -> None:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=LENGTH, num_labels=CLASSES)
    training = TrainingArguments(output_dir=str(run_dir / "trainer"), per_device_train_batch_size=32,
                                 num_train_epochs=epochs, learning_rate=lr, eval_strategy="epoch",
                                 logging_strategy="epoch", save_strategy="no", report_to="none", use_cpu=True, seed=0,
                                 disable_tqdm=True)
    callbacks = [WatchCallback(log_dir=run_dir / "scalediag")] if watched else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Trainer(model=BertForSequenceClassification(config), args=training, train_dataset=Tokens(2048, 0),
                eval_dataset=Tokens(256, 1), callbacks=callbacks,
                compute_metrics=lambda p: {"accuracy": float((p.predictions.argmax(-1) == p.label_ids).mean())}
                ).train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--out", type=Path, default=Path("outputs/hf_example"))
    args = parser.parse_args()
    train(args.lr, args.out / f"lr{args.lr:g}")
    sys.exit(subprocess.run([sys.executable, "-m", "scalediag", "report", str(args.out)]).returncode)


if __name__ == "__main__":
    main()
