"""Unused: the nodes of these tests are Pollen processes. Flower Apps need a ClientApp."""

from flwr.clientapp import ClientApp

app = ClientApp()
