"""A Message-API ServerApp (flwr.serverapp.strategy.FedAvg) for Pollen's interop tests.

It runs FedAvg over every connected node, Pollen devices and Python
SuperNodes alike, and writes a JSON report: per round and per stage (train,
evaluate), the nodes that answered, their errors, the metrics they sent,
and whether the aggregate FedAvg returned equals a weighted average
recomputed here in NumPy from the replies (weights: num-examples).
"""

import json
from collections import OrderedDict

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

REPORT = {"rounds": {}}
WEIGHT = "num-examples"


def _write(path):
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(REPORT, f, indent=1, sort_keys=True)


def _metrics(msg: Message):
    return {k: v for record in msg.content.metric_records.values() for k, v in record.items()}


def _stage(server_round, name, replies):
    """The report's entry for one stage, with what every reply carried."""
    ok = [m for m in replies if not m.has_error()]
    errors = [m for m in replies if m.has_error()]
    entry = REPORT["rounds"].setdefault(str(server_round), {})[name] = {
        "results": len(ok),
        "failures": len(errors),
        "errors": [f"node {m.metadata.src_node_id}: {m.error.reason}" for m in errors],
        "nodes": sorted(m.metadata.src_node_id for m in ok),
        "metrics": {str(m.metadata.src_node_id): _metrics(m) for m in ok},
    }
    return ok, entry


def _weighted_metrics(ok):
    """num-examples-weighted mean of every other metric, in float64."""
    weights = np.array([float(_metrics(m)[WEIGHT]) for m in ok])
    keys = [k for k in _metrics(ok[0]) if k != WEIGHT]
    return {k: float(sum(w * float(_metrics(m)[k]) for m, w in zip(ok, weights)) / weights.sum())
            for k in keys}


def _close_metrics(got, expected):
    return (got is not None and set(got.keys()) == set(expected)
            and all(np.isclose(float(got[k]), v, rtol=1e-6, atol=1e-9)
                    for k, v in expected.items()))


class RecordedFedAvg(FedAvg):
    """FedAvg that records what it aggregates, and checks it against NumPy."""

    def __init__(self, report_path, **kwargs):
        super().__init__(**kwargs)
        self.report_path = report_path

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        ok, entry = _stage(server_round, "train", replies)
        arrays, metrics = super().aggregate_train(server_round, replies)
        if ok and arrays is not None:
            weights = np.array([float(_metrics(m)[WEIGHT]) for m in ok], dtype=np.float64)
            sent = [m.content["arrays"] for m in ok]
            keys = list(sent[0].keys())
            entry["array_keys"] = keys
            entry["dtypes"] = {str(m.metadata.src_node_id): sorted(
                {a.numpy().dtype.str for a in m.content["arrays"].values()}) for m in ok}
            worst = 0.0
            matches = list(arrays.keys()) == keys
            for key in keys:
                expected = sum(w * r[key].numpy().astype(np.float64)
                               for r, w in zip(sent, weights)) / weights.sum()
                got = arrays[key].numpy().astype(np.float64)
                if got.shape != expected.shape:
                    matches = False
                    continue
                worst = max(worst, float(np.max(np.abs(got - expected))))
                matches = matches and bool(np.allclose(got, expected, rtol=1e-5, atol=1e-6))
            entry["aggregate_matches_numpy"] = matches
            entry["aggregate_max_abs_diff"] = worst
            expected_metrics = _weighted_metrics(ok)
            entry["aggregated_metrics"] = dict(metrics) if metrics is not None else None
            entry["metrics_match_numpy"] = _close_metrics(metrics, expected_metrics)
            REPORT["final"] = [float(arrays[k].numpy().astype(np.float64).sum()) for k in keys]
        _write(self.report_path)
        return arrays, metrics

    def aggregate_evaluate(self, server_round, replies):
        replies = list(replies)
        ok, entry = _stage(server_round, "evaluate", replies)
        metrics = super().aggregate_evaluate(server_round, replies)
        if ok:
            entry["aggregated_metrics"] = dict(metrics) if metrics is not None else None
            entry["metrics_match_numpy"] = _close_metrics(metrics, _weighted_metrics(ok))
        _write(self.report_path)
        return metrics


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    path = str(cfg["report"])
    n = int(cfg["min-nodes"])
    with np.load(str(cfg["initial-model"])) as npz:
        initial = OrderedDict((k, npz[k]) for k in npz.files)
    REPORT["initial"] = [float(a.astype(np.float64).sum()) for a in initial.values()]
    _write(path)
    strategy = RecordedFedAvg(path, fraction_train=1.0, fraction_evaluate=1.0,
                              min_train_nodes=n, min_evaluate_nodes=n, min_available_nodes=n)
    train_config = ConfigRecord({"lr": float(cfg["lr"]), "local-epochs": int(cfg["local-epochs"]),
                                 "batch-size": int(cfg["batch-size"]),
                                 "momentum": float(cfg["momentum"])})
    strategy.start(grid=grid,
                   initial_arrays=ArrayRecord(OrderedDict((k, Array(v))
                                                          for k, v in initial.items())),
                   train_config=train_config, num_rounds=int(cfg["num-server-rounds"]),
                   timeout=300)
    REPORT["done"] = True
    _write(path)
