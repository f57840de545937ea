"""A physics-informed network whose forward differentiates its own output: u(t) is fitted to u' = cos(t), u(0) = 0
through the residual of the derivative (torch.autograd.grad with create_graph inside forward), Adam. Its forward
needs autograd, so no probe (an evaluation without it) can be taken; the training steps are measured all the same."""
import torch
from torch import nn

torch.manual_seed(0)


class PINN(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))

    def forward(self, t):
        t = t.requires_grad_(True)
        u = self.net(t)
        du = torch.autograd.grad(u.sum(), t, create_graph=True)[0]
        return du - torch.cos(t), self.net(torch.zeros(1, 1))


model = PINN()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(1, 121):
    residual, start = model(torch.rand(64, 1) * 6)
    loss = residual.pow(2).mean() + start.pow(2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0:
        print(f"step {step}: loss {loss.item():.6f}")
