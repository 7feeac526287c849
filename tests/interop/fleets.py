#!/usr/bin/env python3
"""Pollen in fleets the real Flower SuperLink serves: one interop test per call.

    fleets.py mixed|tls --flwr-bin DIR --pollen PATH --zoo DIR --digits DIR --work DIR
                        [--python-nodes N]

mixed: 2 `pollen` nodes and N (default 1) Python `flower-supernode`s running
a PyTorch ClientApp (tests/interop/apps/mixed_app) in the same rounds of the
Message-API FedAvg (flwr.serverapp.strategy); checks that every round
aggregated every node, that replies came from both kinds of node, and that
the aggregate is the num-examples-weighted average of the replies.

tls: a SuperLink with TLS (a CA and a certificate for 127.0.0.1 made here
with openssl) and --enable-supernode-auth; 2 node keys from `pollen keygen`,
registered with the `flwr supernode register` command it prints; 2 `pollen`
nodes with those keys over TLS run the same FedAvg; a third with a key never
registered, and a fourth with the key of a node online, must be refused with
an error that says which, exit non-zero, and stay out of the rounds.

Uses interop.py's helpers (SuperLink, `flwr run`, processes stopped by PID).
Prints "interop <test>: ok" and exits 0 on success; "skipped: ..." when no
real Flower (or, for tls, no openssl) is available. Standard library only.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from interop import check, common_args, drive, flwr_run, free_port, superlink  # noqa: E402

APP = os.path.join(HERE, "apps", "mixed_app")
TRAIN_KEYS = {"train_loss", "num-examples"}
EVAL_KEYS = {"eval_loss", "eval_acc", "num-examples"}
ROUNDS = 2


def pollen_node(a, procs, name, fleet, shard, seed, connection):
    return procs.start(name, [
        a.pollen, "--superlink", f"127.0.0.1:{fleet}", *connection,
        "--model", os.path.join(a.zoo, "cnn8.pt"),
        "--train-data", os.path.join(a.digits, f"client-{shard}.csv"),
        "--eval-data", os.path.join(a.digits, "test.csv"),
        "--threads", "1", "--seed", str(seed), "--poll-interval", "0.5"])


def node_id_of(procs, name, seconds=0):
    """The node id a pollen log reports ("Connected as node N"), or None."""
    end = time.monotonic() + seconds
    while True:
        found = re.search(r"Connected as node (\d+)", procs.tail(name, 200))
        if found or time.monotonic() >= end:
            return int(found.group(1)) if found else None
        time.sleep(0.5)


def run_app(a, procs, flwr_bin, env, nodes):
    """One `flwr run` of mixed_app over `nodes` nodes; the run's status and report."""
    report_path = os.path.join(a.work, "report.json")
    app = os.path.join(a.work, "mixed_app")
    shutil.copytree(APP, app, dirs_exist_ok=True)
    run_config = {"num-server-rounds": ROUNDS, "min-nodes": nodes,
                  "initial-model": os.path.join(a.zoo, "cnn8.npz"), "report": report_path}
    status = flwr_run(flwr_bin, app, run_config, env, a.work, a.timeout)
    report = {}
    if os.path.exists(report_path):
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
    return status, report


def check_rounds(work, report, expected_nodes, failures):
    """Every round: train and evaluate answered by exactly `expected_nodes`,
    no failures, the stock metric keys, aggregates equal to NumPy's."""
    rounds = report.get("rounds", {})
    check(sorted(rounds) == [str(r) for r in range(1, ROUNDS + 1)],
          f"rounds reported: {sorted(rounds)}", failures)
    for rnd, stages in sorted(rounds.items()):
        for stage, keys in (("train", TRAIN_KEYS), ("evaluate", EVAL_KEYS)):
            s = stages.get(stage, {})
            check(s.get("results") == len(expected_nodes) and s.get("failures") == 0,
                  f"round {rnd} {stage}: {s.get('results')} results, {s.get('failures')} "
                  f"failures {s.get('errors')}", failures)
            check(set(s.get("nodes", [])) == set(expected_nodes),
                  f"round {rnd} {stage}: nodes {s.get('nodes')}, expected "
                  f"{sorted(expected_nodes)}", failures)
            for node, metrics in s.get("metrics", {}).items():
                check(set(metrics) == keys, f"round {rnd} {stage}: node {node} sent metric "
                      f"keys {sorted(metrics)}", failures)
            check(s.get("metrics_match_numpy") is True,
                  f"round {rnd} {stage}: aggregated metrics {s.get('aggregated_metrics')} differ "
                  "from NumPy's weighted average", failures)
        check(stages.get("train", {}).get("aggregate_matches_numpy") is True,
              f"round {rnd}: FedAvg aggregate differs from NumPy's weighted average (max abs "
              f"diff {stages.get('train', {}).get('aggregate_max_abs_diff')})", failures)
    check(report.get("done") is True, "the ServerApp did not finish", failures)
    # What `flwr run --stream` showed of the strategy, as a user sees it.
    with open(os.path.join(work, "flwr-run.log"), encoding="utf-8", errors="replace") as f:
        log = f.read()
    for kind in ("train", "evaluate"):
        line = f"aggregate_{kind}: Received {len(expected_nodes)} results and 0 failures"
        check(log.count(line) == ROUNDS, f"'{line}' {log.count(line)} times in the run's log, "
              f"not {ROUNDS}", failures)
    check("final" in report and report.get("final") != report.get("initial"),
          "the global model did not change", failures)


def test_mixed(a, procs, flwr_bin):
    home = os.path.join(a.work, "flwr-home")
    os.makedirs(home)
    ports, env = superlink(procs, flwr_bin, home)
    pollen = [f"pollen-{i}" for i in range(2)]
    for i, name in enumerate(pollen):
        pollen_node(a, procs, name, ports["fleet"], i, i, ["--insecure"])
    # Python SuperNodes: PyTorch ClientApp on the first half of shard i % 2
    # (the pollen nodes train on whole shards), each with its own FLWR_HOME.
    replies = []
    for i in range(a.python_nodes):
        node_home = os.path.join(a.work, f"supernode-{i}-home")
        os.makedirs(node_home)
        replies.append(os.path.join(a.work, f"supernode-{i}-replies.jsonl"))
        node_config = " ".join([
            f'model="{os.path.join(a.zoo, "cnn8.pt")}"',
            f'train-data="{os.path.join(a.digits, f"client-{i % 2}.csv")}"',
            f'eval-data="{os.path.join(a.digits, "test.csv")}"',
            "partition-id=0", "num-partitions=2", f'replies="{replies[-1]}"'])
        procs.start(f"supernode-{i}", [
            os.path.join(flwr_bin, "flower-supernode"), "--insecure",
            "--superlink", f"127.0.0.1:{ports['fleet']}",
            "--clientappio-api-address", f"127.0.0.1:{free_port()}",
            "--node-config", node_config], env=dict(env, FLWR_HOME=node_home,
                                                    OMP_NUM_THREADS="1"))
    nodes = 2 + a.python_nodes
    status, report = run_app(a, procs, flwr_bin, env, nodes)
    print(json.dumps({r: {s: {k: v for k, v in d.items() if k in (
        "results", "failures", "nodes", "aggregated_metrics", "aggregate_max_abs_diff")}
        for s, d in st.items()} for r, st in report.get("rounds", {}).items()},
        indent=1, sort_keys=True))

    failures = []
    check(status == "finished:completed", f"run status {status}", failures)
    pollen_ids = {node_id_of(procs, name) for name in pollen} - {None}
    check(len(pollen_ids) == 2, f"pollen node ids from the logs: {sorted(pollen_ids)}", failures)
    # Which nodes ran the Python ClientApp, and what they answered.
    python_ids, python_replies = set(), set()
    for path in replies:
        lines = open(path, encoding="utf-8").read().splitlines() if os.path.exists(path) else []
        ids = {json.loads(line)["node_id"] for line in lines}
        check(len(ids) == 1, f"{os.path.basename(path)}: node ids {sorted(ids)}", failures)
        python_ids |= ids
        python_replies |= {(json.loads(line)["type"], json.loads(line)["round"])
                           for line in lines}
    check(len(python_ids) == a.python_nodes and not python_ids & pollen_ids,
          f"python node ids {sorted(python_ids)}, pollen {sorted(pollen_ids)}", failures)
    check(python_replies == {(t, r) for t in ("train", "evaluate")
                             for r in range(1, ROUNDS + 1)},
          f"the Python ClientApp answered {sorted(python_replies)}", failures)
    check_rounds(a.work, report, pollen_ids | python_ids, failures)
    # The nodes' own array dtypes differ (Pollen answers in the dtypes it
    # received); FedAvg aggregated them together all the same.
    print("reply dtypes, round 2:", json.dumps(
        report.get("rounds", {}).get("2", {}).get("train", {}).get("dtypes")))
    return failures


def openssl(args, work):
    subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True, timeout=60)


def make_certificates(work):
    """A CA and a server certificate for 127.0.0.1 (SAN IP:127.0.0.1), ten years."""
    d = os.path.join(work, "certs")
    os.makedirs(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
             "-subj", "/CN=Pollen interop test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    openssl(["req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1"], d)
    with open(os.path.join(d, "server.ext"), "w", encoding="utf-8") as f:
        f.write("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n"
                "keyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n")
    openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "3650",
             "-extfile", "server.ext"], d)
    return {k: os.path.join(d, f) for k, f in
            (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}


def keygen(a, path):
    """`pollen keygen PATH`; the `flwr supernode register` command it prints, as argv."""
    out = subprocess.run([a.pollen, "keygen", path], capture_output=True, text=True,
                         timeout=60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"pollen keygen {path}: {out.returncode} {out.stderr}")
    lines = [line.split() for line in out.stdout.splitlines()
             if line.split()[:3] == ["flwr", "supernode", "register"]]
    if len(lines) != 1:
        raise RuntimeError(f"pollen keygen printed no register command:\n{out.stdout}")
    return lines[0]


def test_tls(a, procs, flwr_bin):
    tls = make_certificates(a.work)
    home = os.path.join(a.work, "flwr-home")
    os.makedirs(home)
    ports, env = superlink(procs, flwr_bin, home, tls=tls, args=["--enable-supernode-auth"])
    failures = []

    # Keys for the nodes: two registered exactly as `pollen keygen` says,
    # with SUPERLINK = the connection in config.toml; one never registered.
    registered = {}
    for i in range(2):
        key = os.path.join(a.work, f"node-{i}.key")
        cmd = keygen(a, key)
        check(cmd[3:] == [key + ".pub", "[SUPERLINK]"], f"register command {cmd}", failures)
        cmd = [os.path.join(flwr_bin, "flwr")] + cmd[1:3] + [
            "local" if arg == "[SUPERLINK]" else arg for arg in cmd[3:]]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=a.work,
                             timeout=120, check=False)
        print(f"$ flwr {' '.join(cmd[1:])}\n{out.stdout.strip()}")
        found = re.search(r"SuperNode (\d+) registered successfully", out.stdout)
        check(out.returncode == 0 and found is not None,
              f"flwr supernode register: rc {out.returncode}\n{out.stdout}{out.stderr}",
              failures)
        if found:
            registered[f"pollen-{i}"] = int(found.group(1))
    unregistered = os.path.join(a.work, "stranger.key")
    keygen(a, unregistered)
    if failures:
        return failures

    for i in range(2):
        pollen_node(a, procs, f"pollen-{i}", ports["fleet"], i, i, [
            "--root-certificates", tls["ca"],
            "--auth-supernode-private-key", os.path.join(a.work, f"node-{i}.key")])
    stranger = pollen_node(a, procs, "pollen-stranger", ports["fleet"], 0, 7, [
        "--root-certificates", tls["ca"], "--auth-supernode-private-key", unregistered])
    # A second device with pollen-0's key, once pollen-0 is online.
    check(node_id_of(procs, "pollen-0", 60) is not None, "pollen-0 did not connect", failures)
    twin = pollen_node(a, procs, "pollen-twin", ports["fleet"], 1, 8, [
        "--root-certificates", tls["ca"],
        "--auth-supernode-private-key", os.path.join(a.work, "node-0.key")])

    status, report = run_app(a, procs, flwr_bin, env, 2)
    print(json.dumps({r: {s: {k: v for k, v in d.items() if k in ("results", "failures", "nodes")}
                          for s, d in st.items()} for r, st in report.get("rounds", {}).items()},
                     indent=1, sort_keys=True))
    check(status == "finished:completed", f"run status {status}", failures)
    for name, node_id in registered.items():
        got = node_id_of(procs, name)
        check(got == node_id, f"{name} connected as node {got}, registered as {node_id}",
              failures)
        check(f"SuperLink 127.0.0.1:{ports['fleet']} (TLS)" in procs.tail(name, 200),
              f"{name} did not connect over TLS", failures)
    check_rounds(a.work, report, set(registered.values()), failures)

    # The stranger and the twin: refused at ActivateNode, each must say why
    # and stop.
    for proc, name, what, says in (
            (stranger, "pollen-stranger", "unregistered key",
             f"is not registered with this SuperLink: register its public key with `flwr "
             f"supernode register {unregistered}.pub [SUPERLINK]`"),
            (twin, "pollen-twin", "key of a node online", "is online already")):
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        log = procs.tail(name, 200)
        print(f"---- {name}, {what} (exit status {rc}) ----\n{procs.tail(name, 1)}")
        check(rc is not None and rc != 0, f"{name}'s exit status: {rc}", failures)
        check(says in log, f"{name} does not say: {says}", failures)
        check(node_id_of(procs, name) is None, f"{name} connected", failures)
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python-nodes", type=int, default=1)
    a = common_args(p, ["mixed", "tls"])
    if a.test == "tls" and shutil.which("openssl") is None:
        print("skipped: no openssl to make the test's certificates (apt-get install openssl)")
        return 0
    name, test = {"mixed": ("mixed fleet FedAvg", test_mixed),
                  "tls": ("tls registered keys", test_tls)}[a.test]
    return drive(a, name, test)


if __name__ == "__main__":
    sys.exit(main())
