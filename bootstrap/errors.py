"""Errors of JetStream provisioning.

nats-py's exceptions are translated into these at one place, `bootstrap.client`, so
that every message names the stream or consumer, says what the server answered and
what to do next.
"""


class ProvisioningError(Exception):
    """Base class of every JetStream provisioning failure."""


class NatsUnavailableError(ProvisioningError):
    """No server in the list answered JetStream requests in time."""


class ImmutableChangeError(ProvisioningError):
    """A live object differs from the stack in a field the server cannot change."""


class JetStreamRequestError(ProvisioningError):
    """The server refused a JetStream API request."""


class DataLossError(ProvisioningError):
    """A change would delete stored messages and the stack does not allow it."""
