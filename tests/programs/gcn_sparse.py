# bench: family=graph network | data=synthetic communities | optimizer=Adam | causes=none
# bench: family=graph network | data=synthetic communities | optimizer=Adam | causes=eval_mode | args=bug
"""A graph convolutional network in the style of the canonical GCN examples: one graph of 600 nodes in 3
communities, the symmetric-normalised adjacency as a sparse tensor, two GraphConvolution layers (X W, then A @),
dropout, full-batch training on 60 labelled nodes through an index mask, F.nll_loss on the masked log-softmax, an
evaluation on the test nodes every 10 epochs.
    python gcn_sparse.py [bug]     bug: model.eval() for the evaluation, never model.train() again"""
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
N, CLASSES, FEATURES = 600, 3, 16
community = torch.arange(N) % CLASSES
# edges: within a community with probability 0.03, across with 0.003; features only weakly tell the community
same = community[:, None] == community[None, :]
edges = torch.rand(N, N) < torch.where(same, 0.03, 0.003)
edges = (edges | edges.t()) | torch.eye(N, dtype=torch.bool)
degree = edges.sum(1).float()
index = edges.nonzero().t()
values = 1.0 / torch.sqrt(degree[index[0]] * degree[index[1]])
adj = torch.sparse_coo_tensor(index, values, (N, N), check_invariants=False).coalesce()
features = torch.randn(N, FEATURES)
features[torch.arange(N), community] += 0.5
labels = community
idx_train, idx_test = torch.arange(0, 60), torch.arange(300, 600)


class GraphConvolution(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        bound = 1.0 / math.sqrt(out_features)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x, adj):
        return torch.sparse.mm(adj, x @ self.weight) + self.bias


class GCN(nn.Module):
    def __init__(self, hidden=32, dropout=0.5):
        super().__init__()
        self.gc1, self.gc2 = GraphConvolution(FEATURES, hidden), GraphConvolution(hidden, CLASSES)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, adj):
        x = self.dropout(F.relu(self.gc1(x, adj)))
        return F.log_softmax(self.gc2(x, adj), dim=1)


model = GCN()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
model.train()
for epoch in range(1, 201):
    if "bug" not in sys.argv:
        model.train()
    optimizer.zero_grad()
    output = model(features, adj)
    loss = F.nll_loss(output[idx_train], labels[idx_train])
    loss.backward()
    optimizer.step()
    if epoch % 10 == 0:
        model.eval()
        with torch.no_grad():
            output = model(features, adj)
        accuracy = (output[idx_test].argmax(1) == labels[idx_test]).float().mean().item()
        print(f"epoch {epoch}: train loss {loss.item():.4f} test loss "
              f"{F.nll_loss(output[idx_test], labels[idx_test]).item():.4f} accuracy {accuracy:.3f}")
