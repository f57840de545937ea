# bench: family=GAN | data=synthetic points | optimizer=Adam | causes=none
# bench: family=GAN | data=synthetic points | optimizer=Adam | causes=grad_accumulation | args=bug
"""A GAN in the DCGAN style on 2-D points: a generator and a discriminator, two Adams, nn.BCELoss on [N, 1]
probabilities with float targets; each model's gradients zeroed right before its own backward. The bug variant
never zeroes the discriminator's; bug_g never zeroes the generator's."""
import sys

import torch
from torch import nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Sigmoid())
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
bce = nn.BCELoss()
real = torch.randn(2048, 2) * 0.3 + torch.tensor([2.0, -1.0])
for epoch in range(3):
    for i in range(0, 2048, 64):
        x, z = real[i : i + 64], torch.randn(64, 8)
        fake = G(z)
        loss_d = bce(D(x), torch.ones(64, 1)) + bce(D(fake.detach()), torch.zeros(64, 1))
        if "bug" not in sys.argv:
            opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(D(fake), torch.ones(64, 1))  # its backward reaches D's weights too
        if "bug_g" not in sys.argv:
            opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    with torch.no_grad():
        print(f"epoch {epoch + 1}: D {loss_d.item():.4f} G {loss_g.item():.4f} mean {G(torch.randn(512, 8)).mean(0)}")
