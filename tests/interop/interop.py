#!/usr/bin/env python3
"""Pollen against the real Flower SuperLink: one interop test per call.

    interop.py legacy|quickstart --flwr-bin DIR --pollen PATH --zoo DIR --digits DIR --work DIR
                      [--strategy FedAvg|FedProx|FedAdam] [--no-initial] [--nodes N]

legacy: a ServerApp(server_fn=...) with one of flwr.server.strategy's
strategies (tests/interop/apps/legacy_app); quickstart: the Message-API
FedAvg of examples/quickstart-flower.

Starts `flower-superlink` on 127.0.0.1 with free ports and its own FLWR_HOME,
N `pollen` processes, runs a Flower App of tests/interop/apps with `flwr run`,
waits for the run to end, stops everything it started by PID, and checks the
run's status and the report the ServerApp wrote. Prints "interop <test>: ok"
and exits 0 on success; "skipped: ..." when no real Flower is available.
Standard library only (any python3).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            threading.Event().wait(0.2)
    return False


class Processes:
    """Everything a test starts, stopped by PID on the way out."""

    def __init__(self, work):
        self.work = work
        self.started = []

    def start(self, name, cmd, env=None, cwd=None):
        log = open(os.path.join(self.work, name + ".log"), "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd or self.work, start_new_session=True)
        self.started.append((name, proc, log))
        return proc

    def stop_all(self):
        for _, proc, _ in reversed(self.started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        end = time.monotonic() + 15
        for name, proc, log in reversed(self.started):
            try:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop on SIGTERM; killing it")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()

    def tail(self, name, lines=30):
        path = os.path.join(self.work, name + ".log")
        with open(path, "rb") as f:
            text = f.read().decode(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def find_flower(flwr_bin):
    for d in ([flwr_bin] if flwr_bin else []) + os.environ.get("PATH", "").split(os.pathsep):
        if d and os.access(os.path.join(d, "flower-superlink"), os.X_OK):
            return d
    return None


def superlink(procs, flwr_bin, home, tls=None, args=()):
    """flower-superlink on free ports, and FLWR_HOME's config.toml naming it
    "local". `tls`: {"ca": PEM, "cert": PEM, "key": PEM} for TLS (and the
    Control API trusted through `root-certificates`) instead of --insecure;
    `args`: more flower-superlink flags (e.g. --enable-supernode-auth)."""
    ports = {k: free_port() for k in ("serverappio", "fleet", "control")}
    # The SuperLink starts flower-superexec (and it flwr-serverapp) by name.
    env = dict(os.environ, FLWR_HOME=home,
               PATH=flwr_bin + os.pathsep + os.environ.get("PATH", ""))
    security = ["--insecure"] if tls is None else [
        "--ssl-ca-certfile", tls["ca"], "--ssl-certfile", tls["cert"],
        "--ssl-keyfile", tls["key"]]
    proc = procs.start("superlink", [
        os.path.join(flwr_bin, "flower-superlink"), *security, *args,
        "--serverappio-api-address", f"127.0.0.1:{ports['serverappio']}",
        "--fleet-api-address", f"127.0.0.1:{ports['fleet']}",
        "--control-api-address", f"127.0.0.1:{ports['control']}"], env=env)
    if not wait_for_port(ports["fleet"], proc, 60):
        raise RuntimeError("flower-superlink did not start:\n" + procs.tail("superlink"))
    trust = "insecure = true" if tls is None else f'root-certificates = "{tls["ca"]}"'
    with open(os.path.join(home, "config.toml"), "w", encoding="utf-8") as f:
        f.write('[superlink]\ndefault = "local"\n\n[superlink.local]\n'
                f'address = "127.0.0.1:{ports["control"]}"\n{trust}\n')
    return ports, env


def toml_value(v):
    return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def flwr_run(flwr_bin, app, run_config, env, work, timeout):
    overrides = " ".join(f"{k}={toml_value(v)}" for k, v in run_config.items())
    cmd = [os.path.join(flwr_bin, "flwr"), "run", app, "local", "--run-config", overrides,
           "--stream"]
    with open(os.path.join(work, "flwr-run.log"), "wb") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work,
                       timeout=timeout, check=False)
    out = subprocess.run([os.path.join(flwr_bin, "flwr"), "ls", "local", "--format", "json"],
                         capture_output=True, env=env, cwd=work, timeout=60, check=False)
    runs = json.loads(out.stdout.decode() or "{}").get("runs", [])
    return runs[-1]["status"] if runs else "no run listed"


def check(cond, what, failures):
    if not cond:
        failures.append(what)


def federation(a, procs, flwr_bin, app_source, run_config, node_args=()):
    """The SuperLink, a.nodes pollen nodes (with `node_args`) and one `flwr
    run` of a copy of the app in `app_source`; returns the run's final
    status."""
    home = os.path.join(a.work, "flwr-home")
    os.makedirs(home, exist_ok=True)
    ports, env = superlink(procs, flwr_bin, home)
    start_pollen_nodes(a, procs, ports, node_args)
    app = os.path.join(a.work, os.path.basename(os.path.normpath(app_source)))
    shutil.copytree(app_source, app, dirs_exist_ok=True)
    return flwr_run(flwr_bin, app, run_config, env, a.work, a.timeout)


def test_legacy(a, procs, flwr_bin):
    report_path = os.path.join(a.work, "report.json")
    run_config = {"strategy": a.strategy, "num-server-rounds": 2, "min-nodes": a.nodes,
                  "initial-model": "" if a.no_initial else os.path.join(a.zoo, "cnn8.npz"),
                  "report": report_path}
    status = federation(a, procs, flwr_bin, os.path.join(HERE, "apps", "legacy_app"), run_config)
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    print(json.dumps(report, indent=1, sort_keys=True)[:3000])
    failures = []
    check(status == "finished:completed", f"run status {status}", failures)
    rounds = report.get("rounds", {})
    check(sorted(rounds) == ["1", "2"], f"rounds reported: {sorted(rounds)}", failures)
    for rnd, r in sorted(rounds.items()):
        check(r.get("fit_results") == a.nodes and not r.get("fit_failures"),
              f"round {rnd}: fit {r.get('fit_results')} results, failures {r.get('fit_failures')}",
              failures)
        check(r.get("evaluate_results") == a.nodes and not r.get("evaluate_failures"),
              f"round {rnd}: evaluate {r.get('evaluate_results')} results, "
              f"failures {r.get('evaluate_failures')}", failures)
        if a.strategy == "FedAvg":
            check(r.get("aggregate_matches_numpy") is True,
                  f"round {rnd}: FedAvg aggregate differs from NumPy's", failures)
        check(all("train_loss" in m for m in r.get("fit_metrics", [])),
              f"round {rnd}: fit metrics without train_loss", failures)
    if "initial" in report:
        check(report.get("final") != report["initial"], "the global model did not change",
              failures)
    return failures


def start_pollen_nodes(a, procs, ports, extra=()):
    """a.nodes pollen processes; the digits have two shards, so a third node
    trains on the first shard again (with its own seed). `extra` adds flags,
    its --train-data and --eval-data replacing the digits."""
    for i in range(a.nodes):
        data = [] if "--train-data" in extra else [
            "--train-data", os.path.join(a.digits, f"client-{i % 2}.csv"),
            "--eval-data", os.path.join(a.digits, "test.csv")]
        procs.start(f"pollen-{i}", [
            a.pollen, "--superlink", f"127.0.0.1:{ports['fleet']}", "--insecure",
            "--model", os.path.join(a.zoo, getattr(a, "model", "cnn8") + ".pt"), *data,
            "--threads", "1", "--seed", str(i), "--poll-interval", "0.5", *extra])


def test_quickstart(a, procs, flwr_bin):
    """examples/quickstart-flower: the Message-API FedAvg (flwr.serverapp)."""
    final = os.path.join(a.work, "final")
    model = getattr(a, "model", "cnn8")
    run_config = {"num-server-rounds": 2, "min-nodes": a.nodes,
                  "initial-model": os.path.join(a.zoo, model + ".pt"), "final-model": final}
    node_args = ()
    if model == "resnet18s":
        # 32 random 3x32x32 images, one step of 32 per round: the test is
        # about 45 MB models crossing the real SuperLink, not accuracy.
        images = os.path.join(a.work, "images.pt")
        subprocess.run([sys.executable, os.path.join(HERE, "make_images.py"), images, "32"],
                       check=True, timeout=120)
        run_config.update({"batch-size": 32, "lr": 0.01})
        node_args = ("--train-data", images, "--eval-data", images)
    app = os.path.join(HERE, "..", "..", "examples", "quickstart-flower")
    status = federation(a, procs, flwr_bin, app, run_config, node_args)
    with open(os.path.join(a.work, "flwr-run.log"), encoding="utf-8", errors="replace") as f:
        log = f.read()
    failures = []
    check(status == "finished:completed", f"run status {status}", failures)
    for kind in ("train", "evaluate"):
        line = f"aggregate_{kind}: Received {a.nodes} results and 0 failures"
        check(log.count(line) == 2, f"'{line}' {log.count(line)} times, not 2", failures)
    check(os.path.exists(final + ".npz"), "no final model written", failures)
    if os.path.exists(final + ".npz"):
        with open(final + ".npz", "rb") as f1, open(os.path.join(a.zoo, model + ".npz"),
                                                     "rb") as f2:
            check(f1.read() != f2.read(), "the final model equals the initial one", failures)
    return failures


def add_flower_arg(p):
    p.add_argument("--flwr-bin", default=os.environ.get("POLLEN_FLWR_DIR", ""),
                   help="directory with flower-superlink and flwr (default: $POLLEN_FLWR_DIR/bin "
                        "or PATH)")


def locate_flower(flwr_bin):
    """The directory with flower-superlink (from --flwr-bin, or a Flower
    prefix holding bin/, or PATH); None, after saying "skipped: ...", when
    there is none."""
    if flwr_bin and os.path.isdir(os.path.join(flwr_bin, "bin")):
        flwr_bin = os.path.join(flwr_bin, "bin")
    found = find_flower(flwr_bin)
    if found is None:
        print("skipped: no real Flower (flower-superlink) found; set POLLEN_FLWR_DIR to a "
              "directory with bin/flower-superlink (../shared/flower-1.28/setup.sh DIR makes one) "
              "or pip install flwr==1.28.*")
    return found


def common_args(p, choices):
    """The options every interop driver takes; returns the parsed args."""
    p.add_argument("test", choices=choices)
    add_flower_arg(p)
    p.add_argument("--pollen", required=True)
    p.add_argument("--zoo", required=True)
    p.add_argument("--digits", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--timeout", type=int, default=400)
    a = p.parse_args()
    for name in ("pollen", "zoo", "digits", "work"):
        setattr(a, name, os.path.abspath(getattr(a, name)))
    return a


def drive(a, name, test):
    """Finds Flower, runs `test(a, procs, flwr_bin)` in a fresh a.work, stops
    everything it started and reports; returns the exit code."""
    flwr_bin = locate_flower(a.flwr_bin)
    if flwr_bin is None:
        return 0
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    procs = Processes(a.work)
    start = time.monotonic()
    try:
        failures = test(a, procs, flwr_bin)
    except Exception as e:  # report, then stop everything below
        failures = [f"{type(e).__name__}: {e}"]
    finally:
        procs.stop_all()
    if failures:
        for f in failures:
            print("FAILED:", f)
        for _, proc, log in procs.started:
            log_name = os.path.splitext(os.path.basename(log.name))[0]
            print(f"---- {log_name}.log (tail) ----\n{procs.tail(log_name)}")
        if os.path.exists(os.path.join(a.work, "flwr-run.log")):
            print(f"---- flwr-run.log (tail) ----\n{procs.tail('flwr-run', 60)}")
        print(f"interop {name}: FAILED")
        return 1
    print(f"interop {name}: ok ({time.monotonic() - start:.0f} s)")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strategy", default="FedAvg", choices=["FedAvg", "FedProx", "FedAdam"])
    p.add_argument("--no-initial", action="store_true")
    p.add_argument("--model", default="cnn8", choices=["cnn8", "resnet18s"],
                   help="quickstart: the zoo model (resnet18s trains on random images)")
    a = common_args(p, ["legacy", "quickstart"])
    if a.test == "quickstart":
        return drive(a, f"quickstart FedAvg {a.model}", test_quickstart)
    return drive(a, f"legacy {a.strategy}{' no-initial' if a.no_initial else ''}", test_legacy)


if __name__ == "__main__":
    sys.exit(main())
