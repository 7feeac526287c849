#!/usr/bin/env python3
"""Prints a local federation's progress and draws its plot (run-demo.sh).

  demo_report.py follow --metrics M.jsonl --logs DIR --clients N --rounds R --pid PID
      prints each round as the server finishes it, until it has R rounds or
      process PID (the server) exits.
  demo_report.py final --metrics M.jsonl --out DIR --threshold T
      prints the table, writes DIR/rounds.dat and DIR/federation.png (gnuplot),
      and exits 0 only when the last round's held-out accuracy is >= T.

The server writes one JSON line per round (pollen-superlink-lite
--metrics-out); each client's log has one "epoch E/E: loss L, accuracy A, S
samples/s" line per round. Standard library only.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading

EPOCH = re.compile(
    r"epoch (\d+)/(\d+): loss ([0-9.naninf]+)(?:, accuracy ([0-9.]+))?, ([0-9.]+) samples/s")


def read_rounds(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def last_epochs(log_path):
    """Per round, the client's last epoch line: (loss, accuracy or None, samples/s)."""
    out = []
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                m = EPOCH.search(line)
                if m and m.group(1) == m.group(2):
                    acc = float(m.group(4)) if m.group(4) else None
                    out.append((float(m.group(3)), acc, float(m.group(5))))
    except FileNotFoundError:
        pass
    return out


def metric(step, key):
    value = step.get("metrics", {}).get(key)
    return value if isinstance(value, (int, float)) else None


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_round(r, rounds, logs, clients):
    n = r["round"]
    print(f"round {n}/{rounds}  ({r.get('seconds', 0):.1f} s since start)")
    for i in range(clients):
        epochs = last_epochs(os.path.join(logs, f"client-{i}.log"))
        if len(epochs) >= n:
            loss, acc, speed = epochs[n - 1]
            print(f"  client-{i}: local loss {loss:.3f}  accuracy {fmt(acc, '.3f')}  "
                  f"{speed:,.0f} samples/s")
    ev, tr = r.get("evaluate", {}), r.get("train", {})
    print(f"  server:   {tr.get('replies', 0)} train replies, held-out loss "
          f"{fmt(metric(ev, 'eval_loss'), '.3f')}  accuracy {fmt(metric(ev, 'eval_acc'), '.4f')}")
    sys.stdout.flush()


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def pause(seconds):
    # Not time.sleep: under libfaketime with the monotonic clock left alone
    # (scripts/faketime-tests.sh) Python's time.sleep fails with EINVAL.
    threading.Event().wait(seconds)


def follow(a):
    shown = 0
    while shown < a.rounds:
        rounds = read_rounds(a.metrics)
        for r in rounds[shown:]:
            pause(0.2)  # let the clients' logs catch up with the server
            print_round(r, a.rounds, a.logs, a.clients)
        shown = max(shown, len(rounds))
        if shown < a.rounds and not alive(a.pid):
            break
        pause(0.3)


def plot(out, rows):
    data = os.path.join(out, "rounds.dat")
    with open(data, "w") as f:
        f.write("# round train_loss train_acc eval_loss eval_acc\n")
        for row in rows:
            f.write(" ".join("nan" if v is None else str(v) for v in row) + "\n")
    png = os.path.join(out, "federation.png")
    if shutil.which("gnuplot") is None:
        print("demo: gnuplot not found, no plot (scripts/setup.sh installs gnuplot-nox)")
        return None
    script = f"""
set terminal pngcairo size 900,540 font ",11"
set output "{png}"
set title "Pollen federation on the UCI digits: FedAvg, held-out accuracy and loss per round"
set xlabel "round"
set ylabel "accuracy"
set y2label "loss"
set yrange [0:1]
set y2range [0:*]
set ytics nomirror
set y2tics
set key center right
set xtics 1
set grid
plot "{data}" using 1:5 with linespoints lw 2 title "held-out accuracy", \\
     "{data}" using 1:3 with linespoints title "local train accuracy", \\
     "{data}" using 1:4 axes x1y2 with linespoints lw 2 title "held-out loss", \\
     "{data}" using 1:2 axes x1y2 with linespoints title "local train loss"
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return png


def final(a):
    rounds = read_rounds(a.metrics)
    if not rounds:
        print("demo: the server recorded no round")
        return 1
    rows = []
    print("\n round | train loss | train acc | held-out loss | held-out acc")
    print("-------+------------+-----------+---------------+-------------")
    for r in rounds:
        tr, ev = r.get("train", {}), r.get("evaluate", {})
        row = (r["round"], metric(tr, "train_loss"), metric(tr, "train_acc"),
               metric(ev, "eval_loss"), metric(ev, "eval_acc"))
        rows.append(row)
        print(f" {row[0]:5d} | {fmt(row[1], '10.3f')} | {fmt(row[2], '9.3f')} | "
              f"{fmt(row[3], '13.3f')} | {fmt(row[4], '12.4f')}")
    png = plot(a.out, rows)
    if png:
        print(f"\nplot: {png}")
    accuracy = rows[-1][4]
    if accuracy is None:
        print("demo: the last round has no held-out accuracy")
        return 1
    verdict = "PASS" if accuracy >= a.threshold else "FAIL"
    print(f"final held-out accuracy {accuracy:.4f} after {len(rows)} rounds "
          f"(threshold {a.threshold}): {verdict}")
    return 0 if accuracy >= a.threshold else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("follow")
    f.add_argument("--metrics", required=True)
    f.add_argument("--logs", required=True)
    f.add_argument("--clients", type=int, required=True)
    f.add_argument("--rounds", type=int, required=True)
    f.add_argument("--pid", type=int, required=True)
    g = sub.add_parser("final")
    g.add_argument("--metrics", required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--threshold", type=float, required=True)
    a = p.parse_args()
    if a.mode == "follow":
        follow(a)
        return 0
    return final(a)


if __name__ == "__main__":
    sys.exit(main())
