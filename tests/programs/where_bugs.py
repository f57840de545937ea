"""A small plain-PyTorch training script with one bug chosen by its argument (none: the healthy twin), for
tests/test_where.py: under `scalediag run`, the diagnosis must name the bug and point at the lines marked
`# where: <cause>` below. Synthetic 4-class data (the class is the largest of the first four features), a DataLoader,
SGD, an evaluation after each epoch."""

import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BUG = sys.argv[1] if len(sys.argv) > 1 else "none"
torch.manual_seed(0)
N, EPOCHS = (2048 if BUG == "label_noise" else 512), 4  # label noise: too few samples are memorised, noise and all
if BUG == "overfitting":  # 48 samples trained 40 epochs: memorised
    N, EPOCHS = 48, 40
x, xt = torch.randn(N, 20), torch.randn(256, 20)
y, yt = x[:, :4].argmax(1), xt[:, :4].argmax(1)
if BUG == "unshuffled":
    order = y.argsort()
    x, y = x[order], y[order]
if BUG == "labels_misaligned":
    y = y[torch.randperm(N)]
if BUG == "label_noise":
    noisy = torch.rand(N) < 0.5
    y = torch.where(noisy, torch.randint(0, 4, (N,)), y)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(20, 64), nn.Linear(64, 64), nn.Linear(64, 4)
        self.bn = nn.Identity() if BUG == "input_scale" else nn.BatchNorm1d(64)  # BatchNorm would rescale them
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        h = F.relu(self.bn(self.fc1(x)))
        if BUG == "no_gradient":
            h = h.detach()  # where: no_gradient
        if BUG == "missing_activation":
            h = self.fc2(h)  # where: missing_activation
        else:
            h = F.relu(self.fc2(h))
        h = self.fc3(self.drop(h))
        if BUG == "output_activation":
            h = torch.sigmoid(h)  # where: output_activation
        if BUG == "double_softmax":
            h = F.softmax(h, dim=1)  # where: double_softmax
        if BUG == "batch_mixing":
            h = F.log_softmax(h, dim=0)  # where: batch_mixing
        return h


model = Net()
if BUG == "frozen_model":
    for layer in (model.fc1, model.fc2, model.fc3):
        layer.requires_grad_(False)  # where: frozen_model
lr = {"lr_too_high": 50.0, "lr_too_low": 1e-6}.get(BUG, 0.05)
decay = 50.0 if BUG == "weight_decay" else 0.0
opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=decay)  # where: not_optimized, lr_too_high, lr_too_low, weight_decay
if BUG == "not_optimized":
    model.fc3 = nn.Linear(64, 4)  # where: not_optimized
sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.5)  # where: lr_schedule
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=BUG != "unshuffled")  # where: unshuffled, labels_misaligned, label_noise
loss_fn = F.nll_loss if BUG == "batch_mixing" else F.cross_entropy
scale = 100.0 if BUG == "input_scale" else 1.0

for epoch in range(EPOCHS):  # where: overfitting
    if BUG != "eval_mode":
        model.train()
    total = 0.0
    for xb, yb in loader:
        if BUG not in ("grad_accumulation", "grad_cleared"):
            opt.zero_grad()
        loss = loss_fn(model(xb * scale), yb)  # where: input_scale, eval_mode
        loss.backward()  # where: grad_accumulation
        if BUG == "grad_cleared":
            opt.zero_grad()  # where: grad_cleared
        if BUG == "grad_clip":
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-4)  # where: grad_clip
        opt.step()  # where: grad_accumulation
        if BUG == "lr_schedule":
            sched.step()  # where: lr_schedule
        total += loss.item()
    model.eval()  # where: eval_mode
    with torch.no_grad():
        test_scale = 100.0 if BUG == "preprocessing_mismatch" else scale
        out = model(xt * test_scale)  # where: preprocessing_mismatch
        test_loss = loss_fn(out, yt).item()
    print(f"epoch {epoch}: train {total / len(loader):.4f} test {test_loss:.4f}")
