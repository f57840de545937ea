# bench: family=frozen-backbone fine-tuning | data=synthetic stripes | optimizer=Adam | causes=none
# bench: family=frozen-backbone fine-tuning | data=synthetic stripes | optimizer=Adam | causes=frozen_model | args=bug
"""Fine-tuning a new head on a frozen backbone: a small conv backbone whose filters come set (oriented edge
detectors, standing in for pretrained weights) with BatchNorm, frozen by requires_grad = False; a new linear head
trained by Adam on the parameters that still require grad; 4 classes of noisy stripes by orientation.
    python frozen_backbone.py [bug]   bug: the freezing loop skips only the BatchNorm parameters, so the new head is
                                      frozen too and only BatchNorm trains (a real forum report's root)"""
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
SIZE, CLASSES = 16, 4


def stripes(n, generator):
    label = torch.randint(0, CLASSES, (n,), generator=generator)
    angle = label.float() * math.pi / CLASSES + 0.15 * torch.randn(n, generator=generator)
    ys, xs = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=generator)
    wave = torch.sin(0.9 * (xs * torch.cos(angle)[:, None, None] + ys * torch.sin(angle)[:, None, None]) + phase)
    return (wave + 0.8 * torch.randn(n, SIZE, SIZE, generator=generator)).unsqueeze(1), label


def edge_filters(orientations=8, size=5):
    """Oriented sine and cosine filters: the weights a pretrained first layer would bring."""
    ys, xs = torch.meshgrid(torch.arange(size).float() - size // 2, torch.arange(size).float() - size // 2,
                            indexing="ij")
    filters = []
    for k in range(orientations):
        a = k * math.pi / orientations
        u = xs * math.cos(a) + ys * math.sin(a)
        filters += [torch.sin(0.9 * u), torch.cos(0.9 * u)]
    w = torch.stack(filters).unsqueeze(1)
    return w / w.flatten(1).norm(dim=1)[:, None, None, None]


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 5, padding=2, bias=False)
        self.bn = nn.BatchNorm2d(16)
        with torch.no_grad():
            self.conv.weight.copy_(edge_filters())

    def forward(self, x):
        return F.adaptive_avg_pool2d(F.relu(self.bn(self.conv(x))) ** 2, 1).flatten(1)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Linear(16, CLASSES)

    def forward(self, x):
        return self.head(self.backbone(x))


g = torch.Generator().manual_seed(1)
(x, y), (xt, yt) = stripes(4096, g), stripes(1024, g)
model = Classifier()
for name, p in model.named_parameters():
    if "bug" in sys.argv:
        if "bn" not in name:
            p.requires_grad = False
    elif name.startswith("backbone"):
        p.requires_grad = False
optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
criterion = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for i in range(0, len(x), 64):
        optimizer.zero_grad()
        loss = criterion(model(x[i : i + 64]), y[i : i + 64])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(xt)
    print(f"epoch {epoch + 1}: test loss {criterion(logits, yt).item():.4f} "
          f"accuracy {(logits.argmax(1) == yt).float().mean().item():.3f}")
