# bench: family=VAE | data=synthetic bits | optimizer=Adam | causes=none
# bench: family=VAE | data=synthetic bits | optimizer=Adam | causes=grad_cleared | args=bug
"""A VAE: a sigmoid decoder, binary_cross_entropy plus the KL term, forward returning (recon, mu, logvar).
    python vae_bce.py [bug]      bug: opt.zero_grad() between backward() and step(), so no step moves a weight"""
import sys

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
data = (torch.rand(1024, 64) < torch.linspace(0.1, 0.9, 64)).float()


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.mu, self.logvar = nn.Linear(64, 32), nn.Linear(32, 4), nn.Linear(32, 4)
        self.dec1, self.dec2 = nn.Linear(4, 32), nn.Linear(32, 64)

    def forward(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec2(F.relu(self.dec1(z)))), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    total = 0.0
    for i in range(0, 1024, 64):
        x = data[i : i + 64]
        recon, mu, logvar = model(x)
        loss = F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp())
        if "bug" in sys.argv:
            loss.backward()
            opt.zero_grad()
        else:
            opt.zero_grad()
            loss.backward()
        opt.step()
        total += loss.item()
    print(f"epoch {epoch + 1}: loss {total / 1024:.4f}")
