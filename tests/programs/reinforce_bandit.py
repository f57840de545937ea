# bench: family=policy gradient | data=contextual bandit | optimizer=Adam | causes=none
# bench: family=policy gradient | data=contextual bandit | optimizer=Adam | causes=grad_accumulation | args=bug
"""REINFORCE on a contextual bandit: a softmax policy, Categorical sampling, the loss -log_prob * advantage.
    python reinforce_bandit.py [bug]     bug: opt.zero_grad() never called"""
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical

torch.manual_seed(0)
policy = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
baseline = 0.0
for epoch in range(4):
    rewards = []
    for _ in range(40):
        state = torch.randn(16, 6)
        probs = F.softmax(policy(state), dim=-1)
        dist = Categorical(probs)
        action = dist.sample()
        reward = (action == state[:, :3].argmax(1)).float()
        loss = -(dist.log_prob(action) * (reward - baseline)).mean()
        if "bug" not in sys.argv:
            opt.zero_grad()
        loss.backward()
        opt.step()
        baseline = 0.9 * baseline + 0.1 * reward.mean().item()
        rewards.append(reward.mean().item())
    print(f"epoch {epoch + 1}: mean reward {sum(rewards) / len(rewards):.4f}")
