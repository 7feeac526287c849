#!/usr/bin/env python3
"""Pollen nodes across restarts of the real Flower SuperLink.

    restarts.py --flwr-bin DIR --pollen PATH --zoo DIR --work DIR
                [--model resnet18s] [--data FILE] [--nodes 2] [--cycles 10] [--seed N]

Starts `flower-superlink` (in-memory state, so a restart forgets every node)
on fixed ports and N `pollen --insecure` processes that live through the
whole test. Each cycle stops the SuperLink (SIGKILL or SIGTERM to its process
group) at a random moment: idle, or during a run of
tests/interop/apps/restart_app while a node pulls the instruction's objects
(45 MB with resnet18s), trains, or pushes its reply. It stays down 1 to 20 s
and starts again on the same ports. Then a verification run (Message-API
FedAvg, one round) must finish:completed with train and evaluate sampling,
and getting results from, exactly the node ids the Pollen processes last
logged ("Connected as node N"): one per process, each process registered
exactly once per SuperLink start and within 10 s of it.

Moments, signals, delays and outages come from --seed (printed; random
unless given). One line per cycle says what happened. Prints "interop
superlink restarts: ok" and exits 0 on success; "skipped: ..." when no real
Flower is available. Standard library only (any python3; the default data
set is written with make_images.py, which needs torch).
"""

import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from interop import (Processes, add_flower_arg, flwr_run, free_port,  # noqa: E402
                     locate_flower, toml_value, wait_for_port)

MOMENTS = ("idle", "pull", "train", "push")
CONNECTED = re.compile(r"Connected as node (\d+)")
# SuperLink log lines (DEBUG level has timestamps).
STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"
FLEET_UP = re.compile(STAMP + r".*Starting Fleet API")
ACTIVATED = re.compile(STAMP + r".*\[Fleet\.ActivateNode\] Activated node_id=(\d+)")
# Seconds a node may take to register again once the SuperLink is back.
BACK_WITHIN = 10.0


def read(path, start=0):
    try:
        with open(path, "rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def group_alive(pgid):
    """Whether a process of group `pgid` still runs (zombies do not count)."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # state, ppid, pgrp, ...
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class SuperLink:
    """flower-superlink on the same three ports at every start. Its Fleet
    API logs at DEBUG level, so the test sees PullObject calls."""

    def __init__(self, procs, flwr_bin, work):
        self.procs, self.flwr_bin = procs, flwr_bin
        self.ports = {k: free_port() for k in ("serverappio", "fleet", "control")}
        home = os.path.join(work, "flwr-home")
        os.makedirs(home, exist_ok=True)
        # The SuperLink starts flower-superexec (and it flwr-serverapp) by name.
        self.env = dict(os.environ, FLWR_HOME=home,
                        PATH=flwr_bin + os.pathsep + os.environ.get("PATH", ""))
        with open(os.path.join(home, "config.toml"), "w", encoding="utf-8") as f:
            f.write('[superlink]\ndefault = "local"\n\n[superlink.local]\n'
                    f'address = "127.0.0.1:{self.ports["control"]}"\ninsecure = true\n')
        self.starts = 0
        self.proc = None
        self.log = None

    def start(self):
        self.starts += 1
        name = f"superlink-{self.starts}"
        self.log = os.path.join(self.procs.work, name + ".log")
        self.proc = self.procs.start(name, [
            os.path.join(self.flwr_bin, "flower-superlink"), "--insecure",
            "--serverappio-api-address", f"127.0.0.1:{self.ports['serverappio']}",
            "--fleet-api-address", f"127.0.0.1:{self.ports['fleet']}",
            "--control-api-address", f"127.0.0.1:{self.ports['control']}"],
            env=dict(self.env, FLWR_LOG_LEVEL="DEBUG"))
        for api in ("fleet", "control", "serverappio"):
            if not wait_for_port(self.ports[api], self.proc, 60):
                raise RuntimeError(f"{name} did not start:\n" + self.procs.tail(name))

    def stop(self, sig):
        """Sends `sig` to the SuperLink's process group (SuperExec and the
        ServerApp included, as a service manager does) and waits until all
        of it is gone."""
        pgid = self.proc.pid
        if self.proc.poll() is not None:
            raise RuntimeError(f"the SuperLink exited by itself ({self.proc.returncode}):\n" +
                               read(self.log)[-3000:])
        os.killpg(pgid, sig)
        end = time.monotonic() + 20
        while group_alive(pgid) or self.proc.poll() is None:
            if time.monotonic() > end:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                end = time.monotonic() + 20
            time.sleep(0.05)


def wait_for(predicate, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {seconds} s waiting for {what}")


class Test:
    def __init__(self, a, procs, flwr_bin):
        self.a, self.procs, self.flwr_bin = a, procs, flwr_bin
        self.rng = random.Random(a.seed)
        self.link = SuperLink(procs, flwr_bin, a.work)
        self.app = os.path.join(a.work, "restart_app")
        shutil.copytree(os.path.join(HERE, "apps", "restart_app"), self.app)
        self.nodes = []
        self.failures = []
        self.runs = 0

    def pollen_log(self, i):
        return os.path.join(self.a.work, f"pollen-{i}.log")

    def start_nodes(self):
        a = self.a
        for i in range(a.nodes):
            self.nodes.append(self.procs.start(f"pollen-{i}", [
                a.pollen, "--superlink", f"127.0.0.1:{self.link.ports['fleet']}", "--insecure",
                "--model", os.path.join(a.zoo, a.model + ".pt"), "--train-data", a.data,
                "--threads", "1", "--seed", str(i), "--poll-interval", "0.5"]))

    def run_config(self, name, rounds):
        return {"num-server-rounds": rounds, "min-nodes": self.a.nodes,
                "initial-model": os.path.join(self.a.zoo, self.a.model + ".npz"),
                "batch-size": self.a.batch_size, "round-timeout": 60,
                "report": os.path.join(self.a.work, name + ".json")}

    def fail(self, what):
        self.failures.append(what)
        print("FAILED:", what, flush=True)

    def nodes_connected(self):
        for i, proc in enumerate(self.nodes):
            if proc.poll() is not None:
                raise RuntimeError(f"pollen-{i} exited with {proc.returncode}")
        return None not in self.node_ids()[0]

    def node_ids(self):
        """The last id each pollen process logged, and how often each one
        connected."""
        ids, counts = [], []
        for i in range(self.a.nodes):
            found = CONNECTED.findall(read(self.pollen_log(i)))
            ids.append(int(found[-1]) if found else None)
            counts.append(len(found))
        return ids, counts

    def back_after(self, ids):
        """Seconds from the Fleet API's start to the last of `ids` being
        activated, from the SuperLink's log; None if not found."""
        def seconds(stamp):
            return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        text = read(self.link.log)
        up = FLEET_UP.search(text)
        activated = {int(n): seconds(t) for t, n in ACTIVATED.findall(text)}
        if up is None or not all(i in activated for i in ids):
            return None
        return max(activated[i] for i in ids) - seconds(up.group(1))

    def verify(self, cycle):
        """A run that must complete with every node in every round."""
        self.runs += 1
        name = f"run-{self.runs}-verify"
        rounds = 1
        work = os.path.join(self.a.work, name)
        os.makedirs(work)
        config = self.run_config(name, rounds)
        start = time.monotonic()
        status = flwr_run(self.flwr_bin, self.app, config, self.link.env, work, self.a.timeout)
        took = time.monotonic() - start
        ids, counts = self.node_ids()
        before = len(self.failures)
        for i, proc in enumerate(self.nodes):
            if proc.poll() is not None:
                self.fail(f"cycle {cycle}: pollen-{i} exited with {proc.returncode}")
        if status != "finished:completed":
            self.fail(f"cycle {cycle}: verification run status {status}")
        if counts != [self.link.starts] * self.a.nodes:
            self.fail(f"cycle {cycle}: the pollen processes connected {counts} times over "
                      f"{self.link.starts} SuperLink starts (once per start expected)")
        if None in ids or len(set(ids)) != self.a.nodes:
            self.fail(f"cycle {cycle}: node ids {ids}: not one per pollen process")
        back = self.back_after(ids)
        if back is None or back > BACK_WITHIN:
            self.fail(f"cycle {cycle}: the nodes were not all registered again within "
                      f"{BACK_WITHIN:.0f} s of the restart ({back} s)")
        try:
            with open(config["report"], encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            report = {}
            self.fail(f"cycle {cycle}: no report from the ServerApp ({e})")
        if report and not report.get("finished"):
            self.fail(f"cycle {cycle}: the ServerApp did not finish its rounds")
        expected = sorted(i for i in ids if i is not None)
        rounds_seen = report.get("rounds", {})
        if report and sorted(rounds_seen) != [str(r) for r in range(1, rounds + 1)]:
            self.fail(f"cycle {cycle}: rounds reported {sorted(rounds_seen)}, not 1..{rounds}")
        for rnd, r in sorted(rounds_seen.items()):
            for kind in ("train", "evaluate"):
                for what in ("online", "sampled", "results"):
                    got = r.get(f"{kind}_{what}")
                    if got != expected:
                        self.fail(f"cycle {cycle}, round {rnd}: {kind} {what} {got}, expected the "
                                  f"pollen nodes' ids {expected}")
                if r.get(f"{kind}_failures"):
                    self.fail(f"cycle {cycle}, round {rnd}: {kind} failures "
                              f"{r.get(f'{kind}_failures')}")
        ok = "ok" if len(self.failures) == before else "FAILED"
        back = "?" if back is None else f"{back:.1f}"
        return (f"{ids}, registered again {back} s after the restart; run {self.runs} {status} "
                f"in {took:.1f} s: {ok}")

    def start_run(self):
        """Starts a run of three rounds (the SuperLink stops during the
        first) and returns once the SuperLink has it."""
        self.runs += 1
        name = f"run-{self.runs}-stopped"
        config = self.run_config(name, 3)
        overrides = " ".join(f"{k}={toml_value(v)}" for k, v in config.items())
        out = subprocess.run([os.path.join(self.flwr_bin, "flwr"), "run", self.app, "local",
                              "--run-config", overrides, "--format", "json"],
                             capture_output=True, env=self.link.env, cwd=self.a.work, timeout=120,
                             check=False)
        if out.returncode != 0:
            raise RuntimeError(f"flwr run failed: {out.stdout.decode()} {out.stderr.decode()}")

    def phases(self, node_starts, link_start):
        """What each node was doing, from what it logged since the run began:
        waiting (nothing yet), pulling, training, pushing, or replied."""
        pulling = "[Fleet.PullObject]" in read(self.link.log, link_start)
        result = []
        for i, start in enumerate(node_starts):
            text = read(self.pollen_log(i), start)
            if "Sent reply" in text:
                result.append("replied")
            elif "epoch " in text:
                result.append("pushing")
            elif "Received: train" in text:
                result.append("training")
            else:
                result.append("pulling" if pulling else "waiting")
        return result

    def stop_link(self):
        """Stops the SuperLink at a random moment, waits out a random outage
        and starts it again; returns what happened."""
        moment = self.rng.choice(MOMENTS)
        sig = self.rng.choice((signal.SIGKILL, signal.SIGTERM))
        outage = self.rng.uniform(1.0, 20.0)
        # Training one batch takes under a second; pulls and pushes of 45 MB more.
        delay = self.rng.uniform(0.0, {"idle": 3.0, "train": 0.4}.get(moment, 1.0))
        link_log = self.link.log
        if moment == "idle":
            time.sleep(delay)
            where = f"idle +{delay:.2f} s"
        else:
            link_start = os.path.getsize(link_log)
            node_starts = [os.path.getsize(self.pollen_log(i)) for i in range(self.a.nodes)]
            self.start_run()
            if moment == "pull":  # a node pulls the instruction's first object
                event = "the first PullObject"
                wait_for(lambda: "[Fleet.PullObject]" in read(link_log, link_start), 120, event)
            elif moment == "train":  # a node has the instruction and trains
                event = "a train message received"
                wait_for(lambda: any("Received: train" in read(self.pollen_log(i), node_starts[i])
                                     for i in range(self.a.nodes)), 180, event)
            else:  # a node sends its reply
                event = "the first PushMessages"
                wait_for(lambda: "[Fleet.PushMessages] Push replies" in read(link_log, link_start),
                         180, event)
            time.sleep(delay)
            where = (f"mid-{moment} ({event} +{delay:.2f} s; nodes "
                     f"{', '.join(self.phases(node_starts, link_start))})")
        killed = time.monotonic()
        self.link.stop(sig)
        time.sleep(max(0.0, killed + outage - time.monotonic()))
        self.link.start()
        return f"{where}, {signal.Signals(sig).name}, outage {outage:.1f} s"

    def run(self):
        a = self.a
        print(f"seed {a.seed} (rerun with --seed {a.seed}); {a.cycles} restarts, {a.nodes} "
              f"pollen nodes, model {a.model}", flush=True)
        self.link.start()
        self.start_nodes()
        wait_for(self.nodes_connected, 120, "the pollen nodes to connect")
        for cycle in range(1, a.cycles + 1):
            start = time.monotonic()
            before, _ = self.node_ids()
            stopped = self.stop_link()
            result = self.verify(cycle)
            print(f"cycle {cycle}/{a.cycles}: SuperLink stopped {stopped}; nodes {before} -> "
                  f"{result} ({time.monotonic() - start:.0f} s)", flush=True)
            if self.failures:
                break
        return self.failures


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flower_arg(p)
    p.add_argument("--pollen", required=True)
    p.add_argument("--zoo", required=True)
    p.add_argument("--model", default="resnet18s", help="a model of the zoo")
    p.add_argument("--data", default="",
                   help="the nodes' training data, fitting --model (default for resnet18s: 8 "
                        "random images written with make_images.py)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--work", required=True)
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--cycles", type=int, default=10, help="SuperLink restarts")
    p.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    p.add_argument("--timeout", type=int, default=240, help="seconds per verification run")
    a = p.parse_args()
    for name in ("pollen", "zoo", "work"):
        setattr(a, name, os.path.abspath(getattr(a, name)))
    if a.data:
        a.data = os.path.abspath(a.data)
    elif a.model != "resnet18s":
        p.error("--data is needed for models other than resnet18s")
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)

    flwr_bin = locate_flower(a.flwr_bin)
    if flwr_bin is None:
        return 0
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    if not a.data:
        # Run with the Python that has torch, as the other interop tests do.
        a.data = os.path.join(a.work, "images.pt")
        subprocess.run([sys.executable, os.path.join(HERE, "make_images.py"), a.data, "8"],
                       check=True, timeout=120)
    procs = Processes(a.work)
    start = time.monotonic()
    test = Test(a, procs, flwr_bin)
    try:
        failures = test.run()
    except Exception as e:  # report, then stop everything below
        failures = [f"{type(e).__name__}: {e}"]
    finally:
        procs.stop_all()
    took = time.monotonic() - start
    if failures:
        for f in failures:
            print("FAILED:", f)
        logs = [f"superlink-{test.link.starts}"] + [f"pollen-{i}" for i in range(a.nodes)]
        for log in logs:
            if os.path.exists(os.path.join(a.work, log + ".log")):
                print(f"---- {log}.log (tail) ----\n{procs.tail(log)}")
        print(f"interop superlink restarts: FAILED after {took:.0f} s (seed {a.seed})")
        return 1
    print(f"interop superlink restarts: ok ({a.cycles} restarts in {took:.0f} s, seed {a.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
