"""A legacy ServerApp (ServerApp(server_fn=...)) for Pollen's interop tests.

It runs one of flwr.server.strategy's strategies over the nodes and writes a
JSON report: per round, how many fit/evaluate results and failures the
strategy got, whether the aggregate equals a FedAvg recomputed here in NumPy
from what the nodes sent (FedAvg only), and the metrics they sent.
"""

import json

import numpy as np
from flwr.common import Context, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server import ServerApp, ServerAppComponents, ServerConfig
from flwr.server.strategy import FedAdam, FedAvg, FedProx

REPORT = {"rounds": {}}


def _round(rnd):
    return REPORT["rounds"].setdefault(str(rnd), {})


def _write(path):
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(REPORT, f, indent=1, sort_keys=True)


def _recorded(base, path):
    """`base` (a legacy strategy class) recording what it aggregates."""

    class Recorded(base):
        def aggregate_fit(self, server_round, results, failures):
            r = _round(server_round)
            r["fit_results"] = len(results)
            r["fit_failures"] = [repr(f) for f in failures]
            r["fit_metrics"] = [dict(res.metrics) for _, res in results]
            r["num_examples"] = sorted(res.num_examples for _, res in results)
            if results and base is FedAvg:
                # What the nodes sent, decoded here on our own.
                sent = [(parameters_to_ndarrays(res.parameters), res.num_examples)
                        for _, res in results]
            params, metrics = super().aggregate_fit(server_round, results, failures)
            if results and params is not None and base is FedAvg:
                total = sum(n for _, n in sent)
                got = parameters_to_ndarrays(params)
                # Floating-point arrays: the example-weighted mean. Integer
                # arrays (BatchNorm's num_batches_tracked) are left out: the
                # in-place FedAvg multiplies them by the weight cast to their
                # dtype, i.e. by 0.
                floats = [i for i, a in enumerate(sent[0][0]) if a.dtype.kind == "f"]
                r["aggregate_matches_numpy"] = bool(len(got) == len(sent[0][0]) and floats and all(
                    np.allclose(got[i], sum(w[i].astype(np.float64) * n for w, n in sent) / total,
                                rtol=1e-5, atol=1e-6) for i in floats))
                r["integer_arrays_aggregated"] = [got[i].tolist() for i, a in enumerate(sent[0][0])
                                                  if a.dtype.kind in "iu"]
            if params is not None:
                REPORT["final"] = [float(np.asarray(a, dtype=np.float64).sum())
                                   for a in parameters_to_ndarrays(params)]
            _write(path)
            return params, metrics

        def aggregate_evaluate(self, server_round, results, failures):
            loss, metrics = super().aggregate_evaluate(server_round, results, failures)
            r = _round(server_round)
            r["evaluate_results"] = len(results)
            r["evaluate_failures"] = [repr(f) for f in failures]
            r["evaluate_loss"] = loss
            r["evaluate_metrics"] = [dict(res.metrics) for _, res in results]
            _write(path)
            return loss, metrics

    return Recorded


def server_fn(context: Context) -> ServerAppComponents:
    cfg = context.run_config
    path = str(cfg["report"])
    n = int(cfg["min-nodes"])
    initial = None
    if str(cfg["initial-model"]):
        with np.load(str(cfg["initial-model"])) as npz:
            arrays = [npz[k] for k in npz.files]
        initial = ndarrays_to_parameters(arrays)
        REPORT["initial"] = [float(np.asarray(a, dtype=np.float64).sum()) for a in arrays]

    def fit_config(rnd):
        return {"lr": float(cfg["lr"]), "local-epochs": int(cfg["local-epochs"]),
                "batch-size": int(cfg["batch-size"]), "server-round": rnd}

    kwargs = dict(fraction_fit=1.0, fraction_evaluate=1.0, min_fit_clients=n,
                  min_evaluate_clients=n, min_available_clients=n, on_fit_config_fn=fit_config,
                  initial_parameters=initial)
    name = str(cfg["strategy"])
    if name == "FedProx":
        strategy = _recorded(FedProx, path)(proximal_mu=0.1, **kwargs)
    elif name == "FedAdam":
        if initial is None:
            raise ValueError("FedAdam needs initial-model")
        strategy = _recorded(FedAdam, path)(eta=0.01, **kwargs)
    else:
        strategy = _recorded(FedAvg, path)(**kwargs)
    REPORT["strategy"] = name
    _write(path)
    return ServerAppComponents(
        strategy=strategy,
        config=ServerConfig(num_rounds=int(cfg["num-server-rounds"]), round_timeout=600))


app = ServerApp(server_fn=server_fn)
