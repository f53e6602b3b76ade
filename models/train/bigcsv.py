"""A lean reader of "who's talking" CSVs at the public dataset's scale (8.2M rows x 252 classes).

The CSV is read in chunks of lines; each chunk's lengths are parsed by numpy's C reader and kept as int16
(every length of the public dataset fits: segments are MTU-sized), or as int32 when some length does not
(captures with offloads on hold coalesced segments of up to 64 KB: the lab corpus has -40320); a length outside
-65535..65535 (no IPv4/IPv6 packet carries more) is refused with its line number. Labels and groups become
small integer codes. No float64 frame, no list of per-row Python objects:
8.2M rows x 30 lengths take 492 MB as int16 (the float32 matrix a network trains on is twice that).

  load(path, runs_path)  -> Table (X int16 [N, L], y int32 class codes, classes, groups int32 | None, group names)
  read_csv(path, runs_path, with_meta) -> data.read_csv's tuple (X float32, labels, groups[, meta]), with the
      labels and groups as shared string objects (8 bytes a row). CSVs with extra columns after tcp_len_L (the
      lab corpus's run, client, ... columns) go to data.read_csv, which keeps them per row.

`python3 bigcsv.py --check rows.csv [--runs rows.runs] [--min-rows N]` validates a CSV (one line per error,
with the line number) and prints a JSON summary: rows, sequence length, rows per class (sensor train runs it
before training).
"""
import argparse
import csv
import json
import os
import resource
import sys
import time

import numpy as np

CHUNK_LINES = 1 << 18
INT16_MAX = 32767
MAX_LEN = 65535  # the largest IP payload length field: no TCP segment carries more


class CsvError(Exception):
    """A one-line message naming the file and line."""


class Table:
    def __init__(self, X, y, classes, groups, group_names, L):
        self.X, self.y, self.classes, self.groups, self.group_names, self.L = X, y, classes, groups, group_names, L


def header_of(path, line):
    header = [h.strip() for h in line.rstrip("\r\n").split(",")]
    L = 0
    while L + 1 < len(header) and header[L + 1] == f"tcp_len_{L + 1}":
        L += 1
    if not header or header[0].lstrip("\ufeff") != "app_service" or L == 0:
        raise CsvError(f"{path}:1: header must be app_service,tcp_len_1,...,tcp_len_N (got {','.join(header[:3])}...)")
    return header, L


def _bad_line(path, lineno, raw, n_fields, L):
    """The first reason this line is not a row (called only once a chunk failed to parse)."""
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    row = next(csv.reader([text]))
    if len(row) != n_fields:
        return f"{path}:{lineno}: {len(row)} fields, the header has {n_fields}"
    if not row[0]:
        return f"{path}:{lineno}: empty app_service"
    for i, v in enumerate(row[1:L + 1], 1):
        try:
            n = int(v)
        except ValueError:
            return f"{path}:{lineno}: tcp_len_{i} is {v[:20]!r}, not an integer"
        if abs(n) > MAX_LEN:
            return f"{path}:{lineno}: tcp_len_{i} is {n}, outside -{MAX_LEN}..{MAX_LEN}"
    return None


def _chunks(f, size):
    lines = []
    for raw in f:
        lines.append(raw)
        if len(lines) >= size:
            yield lines
            lines = []
    if lines:
        yield lines


def load(path, runs_path=None, chunk_lines=CHUNK_LINES, progress=None):
    """Reads the CSV (and its runs file: one group name a line) into a Table; raises CsvError."""
    if not os.path.exists(path):
        raise CsvError(f"{path}: no such file")
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8", "replace")
        header, L = header_of(path, first)
        if len(header) != L + 1:
            raise CsvError(f"{path}:1: {len(header) - L - 1} columns after tcp_len_{L}; use data.read_csv for those")
        n_fields = L + 1
        index = {}
        parts_X, parts_y = [], []
        lineno = 1
        for lines in _chunks(f, chunk_lines):
            start = lineno + 1
            lineno += len(lines)
            keep = [i for i, raw in enumerate(lines) if raw.strip()]
            if len(keep) != len(lines):
                lines = [lines[i] for i in keep]
                linenos = [start + i for i in keep]
            else:
                linenos = None
            if not lines:
                continue
            labels, rest = [], []
            for raw in lines:
                if raw[:1] == b'"':  # a quoted label (it holds a comma or a quote): the csv module takes it apart
                    row = next(csv.reader([raw.decode("utf-8", "replace")]))
                    labels.append(row[0])
                    rest.append(",".join(row[1:]).encode())
                else:
                    lab, _, r = raw.partition(b",")
                    labels.append(lab)
                    rest.append(r)
            try:
                A = np.loadtxt(rest, delimiter=",", dtype=np.int32, ndmin=2)
                big = int(np.abs(A).max()) if A.size else 0
                ok = A.shape[1] == L and big <= MAX_LEN and all(labels)
            except ValueError:
                ok = False
            if not ok:
                for k, raw in enumerate(lines):
                    no = linenos[k] if linenos else start + k
                    msg = _bad_line(path, no, raw, n_fields, L)
                    if msg:
                        raise CsvError(msg)
                raise CsvError(f"{path}:{start}: lines {start}..{lineno} could not be read as rows")
            codes = np.empty(len(labels), dtype=np.int32)
            for k, lab in enumerate(labels):
                c = index.get(lab)
                if c is None:
                    c = index[lab] = len(index)
                codes[k] = c
            parts_X.append(A.astype(np.int16) if big <= INT16_MAX else A)
            parts_y.append(codes)
            if progress:
                progress(lineno)
    names = [k.decode("utf-8", "replace") if isinstance(k, bytes) else k for k in index]
    wide = any(p.dtype != np.int16 for p in parts_X)
    X = np.concatenate([p.astype(np.int32) for p in parts_X] if wide else parts_X) if parts_X \
        else np.zeros((0, L), dtype=np.int16)
    del parts_X
    y_first = np.concatenate(parts_y) if parts_y else np.zeros(0, dtype=np.int32)
    # class codes in sorted name order (the model's class order)
    order = sorted(range(len(names)), key=lambda i: names[i])
    remap = np.empty(len(names), dtype=np.int32)
    remap[order] = np.arange(len(names), dtype=np.int32)
    y = remap[y_first] if len(names) else y_first
    classes = [names[i] for i in order]
    groups, group_names = None, None
    if runs_path:
        groups, group_names = load_groups(runs_path, len(y), path)
    return Table(X, y, classes, groups, group_names, L)


def load_groups(runs_path, n_rows, csv_path):
    if not os.path.exists(runs_path):
        raise CsvError(f"{runs_path}: no such file")
    index = {}
    codes = np.empty(n_rows, dtype=np.int32)
    n = 0
    with open(runs_path, "rb") as f:
        for raw in f:
            g = raw.strip()
            if not g:
                continue
            if n >= n_rows:
                raise CsvError(f"{runs_path}: more lines than the {n_rows} rows of {csv_path}")
            c = index.get(g)
            if c is None:
                c = index[g] = len(index)
            codes[n] = c
            n += 1
    if n != n_rows:
        raise CsvError(f"{runs_path}: {n} lines for {n_rows} rows in {csv_path}")
    return codes, [k.decode("utf-8", "replace") for k in index]


def read_csv(path, runs_path=None, with_meta=False):
    """data.read_csv's contract, lean: (X float32 [N, L], labels, groups | None[, meta])."""
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8", "replace")
    try:
        header, L = header_of(path, first)
    except CsvError as e:
        raise SystemExit(str(e))
    if len(header) != L + 1:
        from data import read_csv as read_small
        return read_small(path, runs_path, with_meta) if with_meta else read_small(path, runs_path)
    try:
        t = load(path, runs_path)
    except CsvError as e:
        raise SystemExit(str(e))
    labels = [t.classes[k] for k in t.y.tolist()]  # shared str objects: one pointer a row
    groups = [t.group_names[k] for k in t.groups.tolist()] if t.groups is not None else None
    X = t.X.astype(np.float32)
    if with_meta:
        empty = {}
        return X, labels, groups, [empty] * len(labels)
    return X, labels, groups


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", required=True, metavar="CSV")
    ap.add_argument("--runs")
    ap.add_argument("--min-rows", type=int, default=0, help="every class needs at least this many rows")
    a = ap.parse_args()
    t0 = time.time()
    try:
        with open(a.check, "rb") as f:
            first = f.readline().decode("utf-8", "replace")
        header, L = header_of(a.check, first)
        if len(header) != L + 1:
            # extra columns (the lab corpus): the small reader checks them
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from data import read_csv as read_small
            X, labels, groups = read_small(a.check, a.runs)
            classes = sorted(set(labels))
            counts = {c: 0 for c in classes}
            for c in labels:
                counts[c] += 1
            n = len(labels)
        else:
            t = load(a.check, a.runs)
            classes = t.classes
            cnt = np.bincount(t.y, minlength=len(classes))
            counts = {c: int(cnt[k]) for k, c in enumerate(classes)}
            n = len(t.y)
    except CsvError as e:
        print(str(e), file=sys.stderr)
        return 3
    if n == 0:
        print(f"{a.check}: no rows after the header", file=sys.stderr)
        return 3
    if len(classes) < 2:
        print(f"{a.check}: needs at least two classes, found {len(classes)} ({', '.join(classes)})", file=sys.stderr)
        return 3
    few = sorted((c for c in classes if counts[c] < a.min_rows), key=lambda c: (counts[c], c))
    if few:
        shown = ", ".join(f"{c} ({counts[c]})" for c in few[:5]) + (f" and {len(few) - 5} more" if len(few) > 5 else "")
        print(f"{a.check}: {len(few)} of {len(classes)} classes have fewer than {a.min_rows} rows: {shown} "
              f"(--min-class-rows, or drop those rows)", file=sys.stderr)
        return 3
    print(json.dumps({"rows": int(n), "sequence_length": L, "classes": counts,
                      "seconds": round(time.time() - t0, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
