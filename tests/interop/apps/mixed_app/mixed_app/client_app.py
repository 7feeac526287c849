"""A ClientApp written like Flower's PyTorch quickstart, for Python SuperNodes
that share FedAvg rounds with Pollen devices.

It trains the very TorchScript file the Pollen nodes train (torch.jit.load;
its state_dict keys are the array keys Pollen sends) on a digits CSV shard,
and replies as the quickstart does: train -> ArrayRecord "arrays" +
MetricRecord "metrics" {train_loss, num-examples}; evaluate -> "metrics"
{eval_loss, eval_acc, num-examples}. Everything comes from the SuperNode's
node config:

  flower-supernode ... --node-config 'model="cnn8.pt" train-data="shard.csv"
      eval-data="test.csv" [partition-id=0 num-partitions=2] [replies="log.jsonl"]'

`replies`, when given, gets one JSON line per reply (node id, message type,
round) so that a test can tell which replies came from a Python node.
"""

import json

import numpy as np
import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()
torch.set_num_threads(1)


def _load_model(context: Context, msg: Message):
    model = torch.jit.load(str(context.node_config["model"]), map_location="cpu")
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    return model


def _load_data(context: Context, key: str):
    """Features [N, 64] float32 and labels [N] int64 of the node's CSV under `key`."""
    path = str(context.node_config[key])
    with open(path, encoding="utf-8") as f:
        header = any(c.isalpha() for c in f.readline())
    table = np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, ndmin=2)
    if key == "train-data" and "num-partitions" in context.node_config:
        parts = np.array_split(np.arange(len(table)), int(context.node_config["num-partitions"]))
        table = table[parts[int(context.node_config["partition-id"])]]
    return (torch.from_numpy(table[:, :-1].astype(np.float32)),
            torch.from_numpy(table[:, -1].astype(np.int64)))


def _note(context: Context, msg: Message):
    path = context.node_config.get("replies")
    if path:
        with open(str(path), "a", encoding="utf-8") as f:
            f.write(json.dumps({"node_id": context.node_id, "type": msg.metadata.message_type,
                                "round": int(msg.content["config"]["server-round"])}) + "\n")


@app.train()
def train(msg: Message, context: Context) -> Message:
    model = _load_model(context, msg)
    x, y = _load_data(context, "train-data")
    config = msg.content["config"]
    lr, momentum = float(config["lr"]), float(config.get("momentum", 0.0))
    epochs, batch_size = int(config["local-epochs"]), int(config["batch-size"])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    generator = torch.Generator().manual_seed(int(config["server-round"]))
    model.train()
    running = 0.0
    for _ in range(epochs):
        running = 0.0
        order = torch.randperm(len(x), generator=generator)
        for begin in range(0, len(x), batch_size):
            batch = order[begin:begin + batch_size]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            running += loss.item() * len(batch)
    metrics = {"train_loss": running / len(x), "num-examples": len(x)}
    content = RecordDict({"arrays": ArrayRecord(model.state_dict()),
                          "metrics": MetricRecord(metrics)})
    _note(context, msg)
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    model = _load_model(context, msg)
    x, y = _load_data(context, "eval-data")
    model.eval()
    with torch.no_grad():
        output = model(x)
        loss = torch.nn.functional.cross_entropy(output, y).item()
        accuracy = (output.argmax(1) == y).float().mean().item()
    metrics = {"eval_loss": loss, "eval_acc": accuracy, "num-examples": len(x)}
    _note(context, msg)
    return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)
