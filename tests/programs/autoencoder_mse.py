# bench: family=autoencoder | data=synthetic points | optimizer=Adam | causes=none
"""An autoencoder: 32 -> 4 -> 32, F.mse_loss between the reconstruction and the input itself, Adam."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
basis = torch.randn(4, 32)
data = torch.randn(1024, 4) @ basis  # 32-dim points on a 4-dim subspace
model = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4), nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 32))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    total = 0.0
    for i in range(0, 1024, 32):
        x = data[i : i + 32]
        loss = F.mse_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    print(f"epoch {epoch + 1}: reconstruction mse {total / 32:.5f}")
