"""The app's ClientApp: Flower requires one; in these tests only Pollen nodes
answer, so no Python SuperNode ever runs it."""

from flwr.clientapp import ClientApp

app = ClientApp()
