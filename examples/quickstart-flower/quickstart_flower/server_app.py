"""ServerApp: Flower's FedAvg over Pollen devices (and any Python SuperNodes beside them).

It starts from the weights of the TorchScript file the devices train
(`initial-model`, cnn8.pt from Pollen's model zoo, or its .npz), sends the
train config keys Pollen reads (lr, local-epochs, batch-size, momentum) and
writes the final global model when the last round is done.
"""

from collections import OrderedDict
from logging import INFO

from flwr.app import Array, ArrayRecord, ConfigRecord, Context
from flwr.common import log
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from quickstart_flower.task import load_initial_arrays, save_final_model, train_config

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Runs `num-server-rounds` rounds of FedAvg and saves the result."""
    run_config = context.run_config
    initial_model = str(run_config["initial-model"])
    min_nodes = int(run_config["min-nodes"])

    # The same arrays as ArrayRecord(torch.jit.load("cnn8.pt").state_dict()),
    # read here through NumPy so that a .npz works too.
    initial = load_initial_arrays(initial_model)
    arrays = ArrayRecord(OrderedDict((key, Array(value)) for key, value in initial.items()))
    log(INFO, "Initial model %s: %d arrays", initial_model, len(arrays))

    strategy = FedAvg(
        fraction_train=float(run_config["fraction-train"]),
        fraction_evaluate=float(run_config["fraction-evaluate"]),
        min_train_nodes=min_nodes,
        min_evaluate_nodes=min_nodes,
        min_available_nodes=min_nodes,
    )
    result = strategy.start(
        grid=grid,
        initial_arrays=arrays,
        train_config=ConfigRecord(train_config(run_config)),
        num_rounds=int(run_config["num-server-rounds"]),
    )

    final = OrderedDict((key, array.numpy()) for key, array in result.arrays.items())
    for path in save_final_model(final, initial_model, str(run_config["final-model"])):
        log(INFO, "Saved the final global model to %s", path)
