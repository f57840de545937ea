# bench: family=actor-critic | data=CartPole-v1 | optimizer=Adam | causes=none
# bench: family=actor-critic | data=CartPole-v1 | optimizer=Adam | causes=grad_accumulation | args=bug
"""Actor-critic on gymnasium's CartPole-v1, as the canonical example writes it: one network with an action head (a
softmax policy) and a value head, an action sampled from Categorical at every step of an episode, and after each
episode one update: the policy loss -log_prob * advantage plus F.smooth_l1_loss between the values and the returns.
    python actor_critic_cartpole.py [bug]    bug: optimizer.zero_grad() never called"""
import sys
from collections import namedtuple

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical

GAMMA, EPISODES = 0.99, 80
SavedAction = namedtuple("SavedAction", ["log_prob", "value"])
torch.manual_seed(0)


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.affine1 = nn.Linear(4, 128)
        self.action_head = nn.Linear(128, 2)
        self.value_head = nn.Linear(128, 1)
        self.saved_actions, self.rewards = [], []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        return F.softmax(self.action_head(x), dim=-1), self.value_head(x)


model = Policy()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
eps = np.finfo(np.float32).eps.item()


def select_action(state):
    probs, state_value = model(torch.from_numpy(state).float())
    m = Categorical(probs)
    action = m.sample()
    model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
    return action.item()


def finish_episode():
    R, returns = 0, []
    for r in model.rewards[::-1]:
        R = r + GAMMA * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    policy_losses, value_losses = [], []
    for (log_prob, value), R in zip(model.saved_actions, returns):
        policy_losses.append(-log_prob * (R - value.item()))
        value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
    if "bug" not in sys.argv:
        optimizer.zero_grad()
    loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum()
    loss.backward()
    optimizer.step()
    del model.rewards[:], model.saved_actions[:]


env = gym.make("CartPole-v1")
running_reward = 10
for episode in range(1, EPISODES + 1):
    state, _ = env.reset(seed=episode)
    ep_reward = 0
    for t in range(1, 500):
        action = select_action(state)
        state, reward, terminated, truncated, _ = env.step(action)
        model.rewards.append(reward)
        ep_reward += reward
        if terminated or truncated:
            break
    running_reward = 0.05 * ep_reward + 0.95 * running_reward
    finish_episode()
    if episode % 20 == 0:
        print(f"episode {episode}: last reward {ep_reward:.0f} running reward {running_reward:.2f}")
