# bench: family=contrastive | data=synthetic clusters | optimizer=Adam | causes=none
# bench: family=contrastive | data=synthetic clusters | optimizer=Adam | causes=lr_too_high | args=bug
"""Metric learning with a Siamese encoder: anchor, positive (same cluster) and negative (another cluster) through
the same network, one call each, F.triplet_margin_loss, Adam; every epoch the nearest-centroid accuracy of held-out
points in the embedding.
    python siamese_triplet.py [bug]    bug: Adam at lr 1.0"""
import sys

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
CLUSTERS, DIM = 10, 8
centres = 1.5 * torch.randn(CLUSTERS, DIM)


def sample(labels):
    return centres[labels] + torch.randn(len(labels), DIM)


encoder = nn.Sequential(nn.Linear(DIM, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 16))
optimizer = torch.optim.Adam(encoder.parameters(), lr=1.0 if "bug" in sys.argv else 1e-3)
test_labels = torch.arange(1000) % CLUSTERS
test_points = sample(test_labels)
for epoch in range(5):
    encoder.train()
    total = 0.0
    for step in range(40):
        label = torch.randint(0, CLUSTERS, (64,))
        other = (label + torch.randint(1, CLUSTERS, (64,))) % CLUSTERS
        anchor, positive, negative = encoder(sample(label)), encoder(sample(label)), encoder(sample(other))
        loss = F.triplet_margin_loss(anchor, positive, negative, margin=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    encoder.eval()
    with torch.no_grad():
        embedded = encoder(test_points)
        means = torch.stack([embedded[test_labels == c].mean(0) for c in range(CLUSTERS)])
        accuracy = (torch.cdist(embedded, means).argmin(1) == test_labels).float().mean().item()
    print(f"epoch {epoch + 1}: triplet loss {total / 40:.4f} nearest-centroid accuracy {accuracy:.3f}")
