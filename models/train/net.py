"""The classifier graph: raw signed lengths [N, L] in, class probabilities [N, K] out.

Scaling and the engineered flow features are computed inside the graph, so the exported ONNX file takes
exactly what the sensor computes (SPEC.md, "The model contract") and no preprocessing can drift between
training and the sensor.
"""
import math

import torch
from torch import nn

LOG_LEN = math.log1p(65535.0)  # largest possible payload length: log-scaled lengths stay within [0, 1]
LOG_BYTES = math.log1p(65535.0 * 30)
FULL_SEGMENT = 1200.0  # lengths at or above this are (near) full segments whatever the MTU/MSS
N_GLOBAL = 16
EXACT_POSITIONS = 8  # the first lengths also go in as exact values: handshakes and greetings have fixed sizes
EXACT_MAX = 2047  # larger lengths share the last slot; they are segment-size-bound, not protocol constants
EXACT_DIM = 8
EXACT_UNSEEN = 2 * (EXACT_MAX + 1)  # embedding row of exact lengths not in the training vocabulary (PpiMlp)


class Features(nn.Module):
    """Per-position channels [N, C, L] and flow-level features [N, N_GLOBAL] from raw lengths."""

    def forward(self, x):
        L = x.shape[1]
        c2s = (x > 0).float()
        s2c = (x < 0).float()
        present = c2s + s2c
        mag = x.abs()
        lmag = torch.log1p(mag) / LOG_LEN
        pos = torch.arange(L, dtype=x.dtype, device=x.device).unsqueeze(0) / L
        seq = torch.stack([c2s, s2c, lmag * c2s, lmag * s2c, torch.clamp(mag / 1500.0, max=4.0),
                           (mag >= FULL_SEGMENT).float(), pos.expand_as(x) * present], dim=1)
        n = present.sum(1)
        n_c, n_s = c2s.sum(1), s2c.sum(1)
        b_c, b_s = (mag * c2s).sum(1), (mag * s2c).sum(1)
        sgn = c2s - s2c
        switches = ((sgn[:, 1:] * sgn[:, :-1]) < 0).float().sum(1)
        first_c = (mag * c2s * (torch.cumsum(c2s, 1) == 1).float()).sum(1)  # first request size
        first_s = (mag * s2c * (torch.cumsum(s2c, 1) == 1).float()).sum(1)  # first response size
        second_c = (mag * c2s * (torch.cumsum(c2s, 1) == 2).float()).sum(1)
        second_s = (mag * s2c * (torch.cumsum(s2c, 1) == 2).float()).sum(1)
        max_c, max_s = (mag * c2s).amax(1), (mag * s2c).amax(1)
        full = (mag >= FULL_SEGMENT).float().sum(1)
        g = torch.stack([
            n / L, n_c / L, n_s / L,
            torch.log1p(b_c) / LOG_BYTES, torch.log1p(b_s) / LOG_BYTES,
            switches / L,
            torch.log1p(first_c) / LOG_LEN, torch.log1p(first_s) / LOG_LEN,
            torch.log1p(second_c) / LOG_LEN, torch.log1p(second_s) / LOG_LEN,
            sgn[:, 0],  # who speaks first: +1 client, -1 server (banner protocols)
            torch.log1p(max_c) / LOG_LEN, torch.log1p(max_s) / LOG_LEN,
            torch.log1p(b_c / torch.clamp(n_c, min=1.0)) / LOG_LEN,
            torch.log1p(b_s / torch.clamp(n_s, min=1.0)) / LOG_LEN,
            full / L,
        ], dim=1)
        return seq, g


class PpiNet(nn.Module):
    """A small dilated 1D CNN over the positions, an MLP over the flow features and an embedding of the exact
    first lengths; softmax at the end. (Without the exact-value embedding the network lost to the trees
    baseline on held-out runs: 2-packet flows such as failed TLS handshakes, [+243, -7], are told apart by
    exact sizes, which log-scaled channels blur.)

    `temperature` is fitted on the validation runs after training (calibration) and divides the logits
    inside the graph, so the exported probabilities are the calibrated ones.
    """

    def __init__(self, n_classes, width=96, hidden=192, dropout=0.15):
        super().__init__()
        self.features = Features()
        c = 7
        self.conv = nn.Sequential(
            nn.Conv1d(c, width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=2, dilation=2), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=4, dilation=4), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU(),
        )
        self.glob = nn.Sequential(nn.Linear(N_GLOBAL, 64), nn.ReLU())
        # one table for both directions: slot = |len| (clamped) for client->server, + EXACT_MAX + 1 for server->client
        self.exact = nn.Embedding(2 * (EXACT_MAX + 1), EXACT_DIM)
        self.head = nn.Sequential(nn.Linear(2 * width + 64 + c * 6 + EXACT_POSITIONS * EXACT_DIM, hidden), nn.ReLU(),
                                  nn.Dropout(dropout),
                                  nn.Linear(hidden, n_classes))
        self.register_buffer("temperature", torch.ones(1))

    def logits(self, x):
        seq, g = self.features(x)
        h = self.conv(seq)
        first = seq[:, :, :6].flatten(1)  # the first six packets verbatim: handshakes live there
        head = x[:, :EXACT_POSITIONS]
        slot = torch.clamp(head.abs(), max=float(EXACT_MAX)) + (head < 0).float() * float(EXACT_MAX + 1)
        exact = self.exact(slot.long()).flatten(1)
        z = torch.cat([h.amax(2), h.mean(2), self.glob(g), first, exact], dim=1)
        return self.head(z)

    def forward(self, x):
        return torch.softmax(self.logits(x) / self.temperature, dim=1)


RUNS = 10  # direction runs ("messages") summarised by the MLP
BUCKETS_PER_OCTAVE = 4  # length buckets for the embedding: quarter octaves (~19% wide), 0..64 per direction
N_BUCKETS = 16 * BUCKETS_PER_OCTAVE + 1


class RunFeatures(nn.Module):
    """Direction runs: maximal stretches of consecutive payload packets in one direction, which is what an
    application message becomes on the wire whatever the MSS or segmentation offload does to it. For the first
    RUNS runs: log bytes, packets, and the run's direction (+1 client, -1 server, 0 absent). [N, 3 * RUNS]."""

    def __init__(self, runs=RUNS):
        super().__init__()
        self.runs = runs

    def forward(self, x):
        sgn = torch.sign(x)
        present = (x != 0).float()
        prev = torch.cat([sgn[:, :1], sgn[:, :-1]], dim=1)
        switch = ((sgn != prev) & (x != 0)).float()
        run_id = torch.cumsum(switch, 1)  # 0 for the first run
        onehot = (run_id.unsqueeze(2) == torch.arange(self.runs, dtype=x.dtype, device=x.device)).float() \
            * present.unsqueeze(2)  # [N, L, R]
        mag = x.abs()
        run_bytes = torch.matmul(mag.unsqueeze(1), onehot).squeeze(1)  # [N, R]
        run_pkts = onehot.sum(1)
        run_dir = torch.matmul(sgn.unsqueeze(1), onehot).squeeze(1) / torch.clamp(run_pkts, min=1.0)
        return torch.cat([torch.log1p(run_bytes) / LOG_BYTES, run_pkts / 8.0, run_dir], dim=1), run_bytes, run_dir


def length_bucket(v):
    """Signed length -> embedding slot: quarter-octave bucket of |v| (0 for padding), server->client shifted."""
    b = torch.clamp(torch.round(torch.log2(1.0 + v.abs()) * BUCKETS_PER_OCTAVE), max=float(N_BUCKETS - 1))
    return b + (v < 0).float() * float(N_BUCKETS)


class PpiMlp(nn.Module):
    """An MLP over flow-level features, per-position channels, direction-run (message) sizes and embeddings of
    the first lengths (quarter-octave buckets, optionally exact values). No convolutions: ~10x cheaper to run
    than the CNN, which the speed floor needs (models/README.md, candidates)."""

    def __init__(self, n_classes, hidden=256, hidden2=128, dropout=0.15, exact=False, buckets=True, runs=RUNS,
                 positions=True, bucket_positions=EXACT_POSITIONS, run_buckets=6, exact_dropout=0.0,
                 exact_cap=EXACT_MAX):
        super().__init__()
        self.features = Features()
        self.run_features = RunFeatures(runs)
        self.use_exact, self.use_buckets, self.use_positions = exact, buckets, positions
        self.bucket_positions, self.run_buckets = bucket_positions, run_buckets
        self.exact_dropout = exact_dropout
        # exact lengths above exact_cap share the slot of exact_cap (full segments: their size is the path's MSS,
        # not the protocol's; the buckets and the full-segment channels still see them)
        self.exact_cap = min(int(exact_cap), EXACT_MAX)
        d = N_GLOBAL + 3 * runs + (6 * 30 if positions else 0)
        if exact:
            # one more row than slots: EXACT_UNSEEN, the embedding of an exact length the training data did not
            # hold often enough (set_exact_vocab); without it an unseen length would read its random initial row
            self.exact = nn.Embedding(EXACT_UNSEEN + 1, EXACT_DIM)
            self.register_buffer("exact_vocab", torch.arange(EXACT_UNSEEN, dtype=torch.long))
            d += EXACT_POSITIONS * EXACT_DIM
        if buckets:
            self.bucket = nn.Embedding(2 * N_BUCKETS, 6)
            d += (bucket_positions + run_buckets) * 6
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, hidden2), nn.ReLU(), nn.Linear(hidden2, n_classes))
        self.register_buffer("temperature", torch.ones(1))

    def inputs(self, x):
        """The parameter-free part: dense features [N, D] and embedding slots [N, S] (float, whole numbers).
        Training computes it once per input version (train.py); the exported graph runs it on every call."""
        seq, g = self.features(x)
        runs, run_bytes, run_dir = self.run_features(x)
        z = [g, runs]
        if self.use_positions:
            z.append(seq[:, :6].flatten(1))
        slots = []
        if self.use_exact:
            head = x[:, :EXACT_POSITIONS]
            slots.append(torch.clamp(head.abs(), max=float(self.exact_cap)) + (head < 0).float() * float(EXACT_MAX + 1))
        if self.use_buckets:
            slots.append(length_bucket(x[:, :self.bucket_positions]))
            rb = run_bytes[:, :self.run_buckets] * torch.sign(run_dir[:, :self.run_buckets])
            slots.append(length_bucket(rb))
        dense = torch.cat(z, dim=1)
        return dense, (torch.cat(slots, dim=1) if slots else dense[:, :0])

    def set_exact_vocab(self, slots, min_count):
        """Exact-length slots seen fewer than min_count times in `slots` (the training rows' exact slots, any
        shape) map to EXACT_UNSEEN from now on, in training and in the exported graph."""
        if not self.use_exact:
            return
        self.set_exact_counts(torch.bincount(slots.reshape(-1).long(), minlength=EXACT_UNSEEN)[:EXACT_UNSEEN],
                              min_count)

    def set_exact_counts(self, counts, min_count):
        """set_exact_vocab from the slot counts [EXACT_UNSEEN] (training accumulates them chunk by chunk)."""
        if not self.use_exact:
            return
        vocab = torch.arange(EXACT_UNSEEN, dtype=torch.long)
        vocab[(counts < min_count) & (vocab != 0) & (vocab != EXACT_MAX + 1)] = EXACT_UNSEEN
        self.exact_vocab.copy_(vocab.to(self.exact_vocab.device))

    def head(self, dense, slots):
        z = [dense]
        at = 0
        if self.use_exact:
            s = self.exact_vocab[slots[:, :EXACT_POSITIONS].long()]
            if self.training and self.exact_dropout > 0:
                # exact-length dropout: the network also learns to name a flow from its buckets and runs alone,
                # as it must for lengths the training data never held
                drop = (torch.rand(s.shape, device=s.device) < self.exact_dropout) & (s != 0) & (s != EXACT_MAX + 1)
                s = torch.where(drop, torch.full_like(s, EXACT_UNSEEN), s)
            z.append(self.exact(s).flatten(1))
            at = EXACT_POSITIONS
        if self.use_buckets:
            z.append(self.bucket(slots[:, at:].long()).flatten(1))
        return self.net(torch.cat(z, dim=1))

    def logits(self, x):
        return self.head(*self.inputs(x))

    def forward(self, x):
        return torch.softmax(self.logits(x) / self.temperature, dim=1)
