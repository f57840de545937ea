# bench: family=Transformer language model | data=synthetic tokens | optimizer=AdamW | causes=none
# bench: family=Transformer language model | data=synthetic tokens | optimizer=AdamW | causes=double_softmax | args=bug
"""A small decoder-only Transformer language model in the nanoGPT style: batch-first [B, T] token windows sampled at
random, token and position embeddings, causal self-attention blocks, logits [B, T, V] flattened for F.cross_entropy
outside the model, AdamW, a validation estimate each epoch. The text: each token follows from the one before it 90%
of the time, else one of the vocabulary at random.
    python transformer_lm.py [bug]    bug: F.softmax applied to the logits before F.cross_entropy"""
import sys

import torch
import torch.nn.functional as F
from torch import nn

VOCAB, BLOCK, BATCH, WIDTH = 48, 32, 16, 64
torch.manual_seed(0)


def text(n):
    noise, keep = torch.randint(0, VOCAB, (n,)), torch.rand(n) < 0.9
    out = [0]
    for i in range(1, n):
        out.append((5 * out[-1] + 3) % VOCAB if keep[i] else int(noise[i]))
    return torch.tensor(out)


def get_batch(data):
    starts = torch.randint(0, len(data) - BLOCK - 1, (BATCH,))
    x = torch.stack([data[s : s + BLOCK] for s in starts])
    y = torch.stack([data[s + 1 : s + 1 + BLOCK] for s in starts])
    return x, y


class TinyGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(VOCAB, WIDTH), nn.Embedding(BLOCK, WIDTH)
        layer = nn.TransformerEncoderLayer(WIDTH, 4, 4 * WIDTH, dropout=0.1, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.ln_f, self.head = nn.LayerNorm(WIDTH), nn.Linear(WIDTH, VOCAB)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(BLOCK))

    def forward(self, idx):
        t = idx.shape[1]
        h = self.tok(idx) + self.pos(torch.arange(t))
        h = self.blocks(h, mask=self.mask[:t, :t], is_causal=True)
        return self.head(self.ln_f(h))


train_data, val_data = text(20000), text(4000)
model = TinyGPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
for epoch in range(3):
    model.train()
    for it in range(60):
        xb, yb = get_batch(train_data)
        logits = model(xb)
        if "bug" in sys.argv:
            logits = F.softmax(logits, dim=-1)
        loss = F.cross_entropy(logits.view(-1, VOCAB), yb.view(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        losses = [F.cross_entropy(model(xv).view(-1, VOCAB), yv.view(-1)).item()
                  for xv, yv in (get_batch(val_data) for _ in range(8))]
    print(f"epoch {epoch + 1}: val loss {sum(losses) / len(losses):.4f}")
