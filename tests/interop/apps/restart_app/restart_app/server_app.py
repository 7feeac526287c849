"""A Message-API ServerApp for Pollen's SuperLink-restart test.

Flower's FedAvg (flwr.serverapp.strategy) over every node that is online,
starting from an np.savez of the nodes' model (`initial-model`). It writes a
JSON report to `report` as it goes: per round, the node ids the SuperLink
listed as online, those FedAvg sampled, and, for train and evaluate, which
nodes replied with a result and which replies were errors (with the
reason). `finished` is true once every round is done.

The test compares the node ids with the last id each Pollen process logged:
a node registered twice after a restart shows up as a third online node
that never answers.
"""

import json
import os
from collections import OrderedDict

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

app = ServerApp()


class RecordedFedAvg(FedAvg):
    """FedAvg that records, per round, whom it asked and who answered."""

    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.path = path
        self.report = {"finished": False, "rounds": {}}
        self.write()

    def write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.report, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def _round(self, server_round):
        return self.report["rounds"].setdefault(str(server_round), {})

    def _configured(self, kind, server_round, messages, grid):
        messages = list(messages)
        r = self._round(server_round)
        r[f"{kind}_online"] = sorted(int(n) for n in grid.get_node_ids())
        r[f"{kind}_sampled"] = sorted(int(m.metadata.dst_node_id) for m in messages)
        self.write()
        return messages

    def _replied(self, kind, server_round, replies):
        replies = list(replies)
        r = self._round(server_round)
        r[f"{kind}_results"] = sorted(
            int(m.metadata.src_node_id) for m in replies if not m.has_error())
        r[f"{kind}_failures"] = [f"node {m.metadata.src_node_id}: {m.error.reason}"
                                 for m in replies if m.has_error()]
        self.write()
        return replies

    def configure_train(self, server_round, arrays, config, grid):
        return self._configured("train", server_round,
                                super().configure_train(server_round, arrays, config, grid), grid)

    def aggregate_train(self, server_round, replies):
        return super().aggregate_train(server_round,
                                       self._replied("train", server_round, replies))

    def configure_evaluate(self, server_round, arrays, config, grid):
        return self._configured("evaluate", server_round,
                                super().configure_evaluate(server_round, arrays, config, grid),
                                grid)

    def aggregate_evaluate(self, server_round, replies):
        return super().aggregate_evaluate(server_round,
                                          self._replied("evaluate", server_round, replies))


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    n = int(cfg["min-nodes"])
    with np.load(str(cfg["initial-model"])) as npz:
        arrays = ArrayRecord(OrderedDict((k, Array(npz[k])) for k in npz.files))
    strategy = RecordedFedAvg(str(cfg["report"]), fraction_train=1.0, fraction_evaluate=1.0,
                              min_train_nodes=n, min_evaluate_nodes=n, min_available_nodes=n)
    train_config = ConfigRecord({"lr": float(cfg["lr"]),
                                 "local-epochs": int(cfg["local-epochs"]),
                                 "batch-size": int(cfg["batch-size"])})
    strategy.start(grid=grid, initial_arrays=arrays, train_config=train_config,
                   num_rounds=int(cfg["num-server-rounds"]),
                   timeout=float(cfg["round-timeout"]))
    strategy.report["finished"] = True
    strategy.write()
