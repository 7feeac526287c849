"""ClientApp for Python SuperNodes that join the federation beside Pollen devices.

Pollen devices need no ClientApp: `pollen` trains the TorchScript model
itself. This ClientApp trains the same network in PyTorch (task.DigitsCNN)
and answers with the same arrays and metric keys as Pollen, so that FedAvg
aggregates both. Its data comes from the SuperNode's node config:

  flower-supernode ... --node-config 'train-data="data/client-2.csv" eval-data="data/test.csv"'

(optional: partition-id and num-partitions, as for `pollen --node-config`).
"""

import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from quickstart_flower.task import DigitsCNN, evaluate, load_digits_csv, train

app = ClientApp()


def _device() -> torch.device:
    return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def _data(context: Context, key: str):
    """The node's CSV file under `key` (eval-data defaults to train-data)."""
    node_config = context.node_config
    path = node_config.get(key) or node_config.get("train-data")
    if not path:
        raise ValueError('start the SuperNode with --node-config \'train-data="FILE.csv"\'')
    if "num-partitions" in node_config:
        return load_digits_csv(
            str(path), node_config["partition-id"], node_config["num-partitions"]
        )
    return load_digits_csv(str(path))


def _model(msg: Message) -> DigitsCNN:
    model = DigitsCNN()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    return model


@app.train()
def train_handler(msg: Message, context: Context) -> Message:
    """Fine-tunes the global model on this node's data with the server's config."""
    model = _model(msg)
    x, y = _data(context, "train-data")
    config = msg.content["config"]
    metrics = train(model, x, y, config, _device(), seed=int(config.get("server-round", 0)))
    content = RecordDict(
        {"arrays": ArrayRecord(model.cpu().state_dict()), "metrics": MetricRecord(metrics)}
    )
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate_handler(msg: Message, context: Context) -> Message:
    """Evaluates the global model on this node's evaluation data."""
    model = _model(msg)
    x, y = _data(context, "eval-data")
    metrics = evaluate(model, x, y, _device())
    return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)
