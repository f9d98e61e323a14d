"""PyTorch peer of `cargo xtask bench-token`: the cost of one generated token.

Embedding(V, E) -> LSTM or GRU (E, H) -> Linear(H, V) at the seed size (V=11,548, E=100, H=150), random weights,
one thread, no autograd; dynamic int8 (torch.ao.quantization.quantize_dynamic on the recurrent and Linear layers,
the way PyTorch users deploy such a model on a CPU) or f32. Per sampler (greedy, top-k 40 at T 0.8, temperature
0.8) it prints one JSON line with the fastest of --rounds rounds of --tokens tokens, in microseconds per token:
the same best-round measure as quill-core's `token_min` example.
"""

import argparse
import json
import time

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, v, e, h, cell):
        super().__init__()
        self.emb = nn.Embedding(v, e)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(e, h, batch_first=True)
        self.dense = nn.Linear(h, v)

    def step(self, token, state):
        out, state = self.rnn(self.emb(token), state)
        return self.dense(out[:, -1]), state


def choose(logits, sampler, gen):
    if sampler == "greedy":
        return logits.argmax(-1, keepdim=True)
    scaled = logits / 0.8
    if sampler == "top-k 40":
        values, ids = torch.topk(scaled, 40)
        pick = torch.multinomial(torch.softmax(values, -1), 1, generator=gen)
        return ids.gather(-1, pick)
    return torch.multinomial(torch.softmax(scaled, -1), 1, generator=gen)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--weights", choices=["int8", "f32"], default="int8")
    p.add_argument("--vocab", type=int, default=11548)
    p.add_argument("--embed", type=int, default=100)
    p.add_argument("--hidden", type=int, default=150)
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--tokens", type=int, default=10)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = Net(a.vocab, a.embed, a.hidden, a.cell).eval()
    if a.weights == "int8":
        net = torch.ao.quantization.quantize_dynamic(net, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)
    gen = torch.Generator().manual_seed(7)
    for sampler in ["greedy", "top-k 40", "temperature 0.8"]:
        with torch.inference_mode():
            token, state = torch.tensor([[3]]), None
            best = float("inf")
            for _ in range(a.rounds):
                start = time.perf_counter()
                for _ in range(a.tokens):
                    logits, state = net.step(token, state)
                    token = choose(logits, sampler, gen)
                best = min(best, (time.perf_counter() - start) / a.tokens)
        print(json.dumps({
            "engine": f"pytorch {torch.__version__} dynamic int8" if a.weights == "int8" else
                      f"pytorch {torch.__version__} f32",
            "cell": a.cell, "sampler": sampler, "us_per_token": best * 1e6, "threads": torch.get_num_threads(),
        }))


if __name__ == "__main__":
    main()
