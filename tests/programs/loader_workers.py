"""A classifier fed by a DataLoader with two worker processes (forked from the script, as on Linux by default), an
evaluation after each epoch: the workers must run as they would unwatched."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(1024, 20)
    y = x[:, :4].argmax(1)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, num_workers=2)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt = torch.randn(256, 20)
    for epoch in range(3):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            print(f"epoch {epoch}: test loss {F.cross_entropy(model(xt), xt[:, :4].argmax(1)).item():.4f}")
