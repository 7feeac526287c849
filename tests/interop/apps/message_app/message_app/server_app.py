"""Message-API ServerApps (flwr.serverapp) for Pollen's interop tests.

scenario "strategies": each stock strategy named in `strategies` runs
`num-server-rounds` rounds (train and evaluate) over the nodes, recorded as it
aggregates: replies, errors, senders, metric keys, and whether the aggregate
equals what NumPy recomputes here from the arrays the nodes sent (where the
strategy's rule is simple enough to restate). Then a `query` to every node.

scenario "custom": grid.send_and_receive with query, train, evaluate, message
types the nodes have no handler for, and instructions whose records do not fit
the model, each followed by a good one; then training rounds that grow until
one outlasts three heartbeat intervals.

Both write a JSON report to `report` for the test to check.
"""

import json
import math
import time
from collections import OrderedDict

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp import strategy as strategies

app = ServerApp()

REPORT = {}


def _write(path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(REPORT, f, indent=1, sort_keys=True)


def _load(path):
    with np.load(path) as npz:
        return OrderedDict((k, npz[k]) for k in npz.files)


def _record(arrays):
    # np.ascontiguousarray would make 0-d arrays (num_batches_tracked) 1-d.
    return ArrayRecord(OrderedDict((k, Array(v if v.flags.c_contiguous else v.copy()))
                                   for k, v in arrays.items()))


def _numpy(record):
    return OrderedDict((k, a.numpy()) for k, a in record.items())


def _floats(arrays):
    return [k for k, v in arrays.items() if v.dtype.kind == "f"]


def _close(got, want, keys):
    return all(np.allclose(got[k], want[k], rtol=1e-5, atol=1e-6) for k in keys)


def _expected(name, sent, weights):
    """What `name` should aggregate `sent` (float arrays only) to, or None
    where its rule is not restated here."""
    keys = _floats(sent[0])
    if name in ("FedAvg", "FedProx"):
        total = float(sum(weights))
        return [{k: sum(s[k].astype(np.float64) * w for s, w in zip(sent, weights)) / total
                 for k in keys}]
    if name == "FedMedian":
        return [{k: np.median(np.stack([s[k] for s in sent]), axis=0) for k in keys}]
    if name == "Krum":  # one of the replies, as sent
        return [{k: s[k] for k in keys} for s in sent]
    return None


def _recorded(base, name, log):
    """`base` recording every round it aggregates into `log`."""

    class Recorded(base):
        def configure_train(self, server_round, arrays, config, grid):
            self._global = _numpy(arrays)
            return super().configure_train(server_round, arrays, config, grid)

        def aggregate_train(self, server_round, replies):
            replies = list(replies)
            entry = _reply_summary(replies)
            ok = [m for m in replies if not m.has_error()]
            sent = [_numpy(m.content["arrays"]) for m in ok]
            weights = [float(m.content["metrics"]["num-examples"]) for m in ok]
            arrays, metrics = super().aggregate_train(server_round, replies)
            entry["aggregated"] = arrays is not None
            if arrays is not None and sent:
                got = _numpy(arrays)
                keys = _floats(sent[0])
                entry["keys_kept"] = list(got) == list(self._global)
                entry["finite"] = all(bool(np.isfinite(got[k]).all()) for k in keys)
                entry["changed"] = not _close(got, self._global, keys)
                entry["dtypes_sent"] = sorted({str(v.dtype) for s in sent for v in s.values()})
                entry["dtypes_aggregated"] = sorted({str(v.dtype) for v in got.values()})
                expected = _expected(name, sent, weights)
                if expected is not None:
                    entry["matches_numpy"] = any(_close(got, e, keys) for e in expected)
                entry["metrics"] = dict(metrics) if metrics is not None else None
            log.setdefault(str(server_round), {})["train"] = entry
            return arrays, metrics

        def aggregate_evaluate(self, server_round, replies):
            replies = list(replies)
            entry = _reply_summary(replies)
            metrics = super().aggregate_evaluate(server_round, replies)
            entry["metrics"] = dict(metrics) if metrics is not None else None
            log.setdefault(str(server_round), {})["evaluate"] = entry
            return metrics

    return Recorded


def _reply_summary(replies):
    return {
        "replies": len(replies),
        "errors": [m.error.reason for m in replies if m.has_error()],
        "nodes": sorted(m.metadata.src_node_id for m in replies),
        "metric_keys": sorted({k for m in replies if not m.has_error()
                               for k in m.content["metrics"].keys()}),
    }


def _strategy(name, n):
    common = dict(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=n,
                  min_evaluate_nodes=n, min_available_nodes=n)
    extra = {
        "FedAvgM": dict(server_momentum=0.9),
        "FedProx": dict(proximal_mu=0.1),
        "FedAdagrad": dict(eta=0.01),
        "FedAdam": dict(eta=0.01),
        "FedYogi": dict(eta=0.01),
        "FedTrimmedAvg": dict(beta=0.2),
        "Krum": dict(num_malicious_nodes=0),
        "MultiKrum": dict(num_malicious_nodes=0, num_nodes_to_select=2),
        "Bulyan": dict(num_malicious_nodes=0),
        "QFedAvg": dict(client_learning_rate=0.05, q=0.1),
    }.get(name, {})
    return getattr(strategies, name), dict(common, **extra)


def _train_config(cfg):
    return ConfigRecord({"lr": float(cfg["lr"]), "local-epochs": int(cfg["local-epochs"]),
                         "batch-size": int(cfg["batch-size"])})


def run_strategies(grid, cfg, path):
    n = int(cfg["min-nodes"])
    initial = _load(str(cfg["initial-model"]))
    REPORT["strategies"] = {}
    for name in str(cfg["strategies"]).split(","):
        log = {}
        REPORT["strategies"][name] = {"rounds": log}
        base, kwargs = _strategy(name, n)
        start = time.monotonic()
        try:
            result = _recorded(base, name, log)(**kwargs).start(
                grid=grid, initial_arrays=_record(initial),
                num_rounds=int(cfg["num-server-rounds"]), train_config=_train_config(cfg),
                timeout=300)
            REPORT["strategies"][name]["final_keys"] = list(result.arrays.keys())
        except Exception as e:  # recorded; the next strategy still runs
            REPORT["strategies"][name]["exception"] = f"{type(e).__name__}: {e}"
        REPORT["strategies"][name]["seconds"] = round(time.monotonic() - start, 2)
        _write(path)
    nodes = sorted(grid.get_node_ids())
    replies = grid.send_and_receive(
        [Message(RecordDict({"config": ConfigRecord({"what": "device"})}), dst_node_id=node,
                 message_type="query") for node in nodes], timeout=120)
    REPORT["query"] = [_query_summary(m) for m in replies]
    _write(path)


def _query_summary(m):
    if m.has_error():
        return {"node": m.metadata.src_node_id, "error": m.error.reason}
    return {"node": m.metadata.src_node_id,
            "config": {k: v for k, v in m.content["config"].items()}}


def _summary(m):
    one = {}
    if m.has_error():
        one["error"] = m.error.reason
        return one
    one["records"] = sorted(m.content.keys())
    if "arrays" in m.content:
        got = _numpy(m.content["arrays"])
        one["keys"] = list(got)
        one["dtypes"] = {k: str(v.dtype) for k, v in got.items()}
    if "metrics" in m.content:
        one["metrics"] = dict(m.content["metrics"])
    if "config" in m.content:
        one["config"] = dict(m.content["config"])
    return one


def _ask(grid, nodes, message_type, content, timeout=120):
    """One instruction to every node with grid.send_and_receive; a summary
    of the replies by node."""
    start = time.monotonic()
    replies = list(grid.send_and_receive(
        [Message(content, dst_node_id=node, message_type=message_type) for node in nodes],
        timeout=timeout))
    return {"seconds": round(time.monotonic() - start, 2), "replies": len(replies),
            "by_node": {str(m.metadata.src_node_id): _summary(m) for m in replies}}


def _batch(grid, nodes, items, timeout=300):
    """Every item to every node at once (grid.push_messages), the replies
    matched to their instruction (grid.pull_messages): each node serves the
    whole mixed sequence, good and broken instructions, in one go."""
    messages, labels = [], []
    for node in nodes:
        for i, (label, message_type, content, _) in enumerate(items):
            messages.append(Message(content, dst_node_id=node, message_type=message_type))
            labels.append((i, str(node)))
    ids = list(grid.push_messages(messages))
    wanted = dict(zip(ids, labels))
    steps = [dict(label=label, type=t, expect_error=expect, replies=0, by_node={}, seconds=0)
             for label, t, _, expect in items]
    start, waiting = time.monotonic(), set(ids)
    while waiting and time.monotonic() - start < timeout:
        for m in grid.pull_messages(list(waiting)):
            i, node = wanted[m.metadata.reply_to_message_id]
            waiting.discard(m.metadata.reply_to_message_id)
            steps[i]["replies"] += 1
            steps[i]["by_node"][node] = _summary(m)
            steps[i]["seconds"] = round(time.monotonic() - start, 2)
        time.sleep(0.3)
    return steps


def _broken(initial, config):
    """Instructions that do not fit the model, each with the word its error
    reply must contain."""
    keys = list(initial)
    weight = next(k for k in keys if initial[k].dtype.kind == "f" and initial[k].ndim >= 2)
    counter = next(k for k in keys if initial[k].dtype.kind == "i")

    def changed(key, value):
        arrays = OrderedDict(initial)
        arrays[key] = value
        return arrays

    cases = [
        ("wrong shape", changed(weight, initial[weight].reshape(-1)[:-1].copy()), weight),
        ("missing key", OrderedDict((k, v) for k, v in initial.items() if k != keys[-1]),
         keys[-1]),
        ("unknown key", changed("head.extra.weight", np.zeros((2, 2), np.float32)),
         "head.extra.weight"),
        ("complex dtype", changed(weight, initial[weight].astype(np.complex64)), weight),
        ("uint32 dtype", changed(keys[-1], initial[keys[-1]].astype(np.uint32)), keys[-1]),
        ("NaN into an integer buffer", changed(counter, np.array(np.nan)), counter),
        ("int64 for a float32 weight", changed(weight, initial[weight].astype(np.int64)), weight),
        ("Inf in a weight", changed(weight, np.full_like(initial[weight], np.inf)), weight),
    ]
    out = []
    for label, arrays, named in cases:
        out.append((label, "train", RecordDict({"arrays": _record(arrays), "config": config}),
                    named))
    out.append(("float16 weights (converted, as load_state_dict does)", "train",
                RecordDict({"arrays": _record(changed(weight, initial[weight].astype(np.float16))),
                            "config": config}), None))
    out.append(("no arrays", "train", RecordDict({"config": config}), "ArrayRecord"))
    out.append(("config of the wrong type", "train",
                RecordDict({"arrays": _record(initial),
                            "config": ConfigRecord({"lr": "fast", "local-epochs": 1})}), "lr"))
    for t in ("train.finetune_head", "query.reboot", "evaluate.holdout"):
        out.append((f"no handler ({t})", t,
                    RecordDict({"arrays": _record(initial), "config": config}), t.split(".")[1]))
    return out


def run_custom(grid, cfg, path):
    n = int(cfg["min-nodes"])
    initial = _load(str(cfg["initial-model"]))
    config = _train_config(cfg)
    nodes = []
    deadline = time.monotonic() + 120
    while len(nodes) < n and time.monotonic() < deadline:
        nodes = sorted(grid.get_node_ids())
        time.sleep(0.5)
    REPORT["nodes"] = nodes
    steps = REPORT["steps"] = []

    def step(label, message_type, content):
        entry = {"label": label, "type": message_type, "expect_error": None}
        entry.update(_ask(grid, nodes, message_type, content))
        steps.append(entry)
        _write(path)

    step("query", "query", RecordDict({"config": ConfigRecord({"what": "device"})}))
    step("train", "train", RecordDict({"arrays": _record(initial), "config": config}))
    step("evaluate", "evaluate", RecordDict({"arrays": _record(initial), "config": config}))
    # Each broken instruction followed by a good one, all queued at once.
    items = []
    for i, case in enumerate(_broken(initial, config)):
        items.append(case)
        good = ConfigRecord(dict(config, **{"batch-size": 16 + i}))  # distinct messages
        items.append((f"train after {case[0]}", "train",
                      RecordDict({"arrays": _record(initial), "config": good}), None))
    steps.extend(_batch(grid, nodes, items))
    _write(path)
    run_long(grid, cfg, path, nodes, initial)


def run_long(grid, cfg, path, nodes, initial):
    """Training rounds of equal work per node (local-steps), longer each
    time, until one lasts four heartbeat intervals; each must be answered by
    every node, and every node must still be online after it."""
    target = 4.0 * float(cfg["heartbeat-interval"])
    steps = 200
    long = REPORT["long"] = []
    for _ in range(5):
        config = ConfigRecord({"lr": 0.001, "local-steps": steps,
                               "batch-size": int(cfg["batch-size"])})
        entry = _ask(grid, nodes, "train", RecordDict({"arrays": _record(initial),
                                                       "config": config}), timeout=600)
        entry["local_steps"] = steps
        entry["online_after"] = sorted(grid.get_node_ids())
        long.append(entry)
        _write(path)
        if entry["seconds"] >= target or entry["replies"] < len(nodes):
            break
        busy = max(entry["seconds"] - 2.0, 0.5)  # less the ServerApp's polling
        steps = int(math.ceil(steps * min(20.0, 1.15 * target / busy)))


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    path = str(cfg["report"])
    REPORT["scenario"] = str(cfg["scenario"])
    _write(path)
    if REPORT["scenario"] == "custom":
        run_custom(grid, cfg, path)
    else:
        run_strategies(grid, cfg, path)
    REPORT["done"] = True
    _write(path)
