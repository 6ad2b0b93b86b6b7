"""JetStream provisioning: Pulumi dynamic resources for streams and consumers."""

from bootstrap.errors import (
    DataLossError,
    ImmutableChangeError,
    JetStreamRequestError,
    NatsUnavailableError,
    ProvisioningError,
)
from bootstrap.resources import (
    ConnectionArgs,
    Consumer,
    ConsumerArgs,
    Stream,
    StreamArgs,
    stream_identity,
)

__all__ = [
    "ConnectionArgs",
    "Consumer",
    "ConsumerArgs",
    "DataLossError",
    "ImmutableChangeError",
    "JetStreamRequestError",
    "NatsUnavailableError",
    "ProvisioningError",
    "Stream",
    "StreamArgs",
    "stream_identity",
]
