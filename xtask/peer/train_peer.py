"""The PyTorch peer of `quill train` for `cargo xtask bench-train --peer`: the same network, recipe and batch
shapes in Python, timed the same way (predicted tokens per second of the training steps alone).

Embedding(V, E) -> dropout -> LSTM or GRU (E, H) x layers -> dropout -> Linear(H, V); Adam (lr 3e-3), gradient-norm
clipping at 1.0, truncated BPTT over B parallel streams of T tokens with the state carried (detached) between
windows, the loss read back every step. Token ids are uniform random: the arithmetic does not depend on them.
Prints one JSON object.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, v, e, h, layers, dropout, cell):
        super().__init__()
        self.emb = nn.Embedding(v, e)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(e, h, num_layers=layers, batch_first=True)
        self.dense = nn.Linear(h, v)
        self.dropout = dropout

    def forward(self, x, state):
        x = F.dropout(self.emb(x), self.dropout, self.training)
        out, state = self.rnn(x, state)
        out = F.dropout(out, self.dropout, self.training)
        return self.dense(out), state


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--embed", type=int, default=100)
    p.add_argument("--hidden", type=int, default=150)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=35)
    p.add_argument("--tokens", type=int, default=120000, help="training tokens (one epoch)")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    net = Net(a.vocab, a.embed, a.hidden, a.layers, a.dropout, a.cell)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    ids = torch.randint(a.vocab, (a.tokens,))
    per = (a.tokens - 1) // a.batch
    streams = torch.stack([ids[b * per:(b + 1) * per + 1] for b in range(a.batch)])
    state = None
    predicted, loss_sum = 0, 0.0
    start = time.perf_counter()
    for off in range(0, per - 1, a.seq_len):
        t = min(a.seq_len, per - 1 - off)
        x, y = streams[:, off:off + t], streams[:, off + 1:off + t + 1]
        if state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        logits, state = net(x, state)
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        if a.clip > 0:
            nn.utils.clip_grad_norm_(net.parameters(), a.clip)
        opt.step()
        loss_sum += loss.item() * y.numel()
        predicted += y.numel()
    seconds = time.perf_counter() - start
    print(json.dumps({
        "engine": "pytorch", "cell": a.cell, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "batch": a.batch, "seq_len": a.seq_len, "tokens": predicted, "seconds": seconds,
        "tokens_per_s": predicted / seconds, "train_loss": loss_sum / max(predicted, 1),
    }))


if __name__ == "__main__":
    main()
