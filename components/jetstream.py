"""A JetStream stream and its durable consumers, provisioned from stack settings."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from bootstrap import (
    ConnectionArgs,
    Consumer,
    ConsumerArgs,
    Stream,
    StreamArgs,
    stream_identity,
)
from components.settings import StreamSettings


@dataclass(frozen=True)
class StreamWithConsumersArgs:
    """What to provision and where.

    Attributes:
        connection: How to reach JetStream from the machine running Pulumi.
        stream: The stream and its consumers.
        nats: The resource serving NATS, if it is running; provisioning starts
            after it is healthy.
    """

    connection: ConnectionArgs
    stream: StreamSettings
    nats: pulumi.Resource | None


class StreamWithConsumers(pulumi.ComponentResource):
    """One stream and each of its durable pull consumers."""

    TYPE = "zk-messenger:index:StreamWithConsumers"

    stream: Stream
    consumers: dict[str, Consumer]

    def __init__(
        self,
        name: str,
        args: StreamWithConsumersArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        connection = args.connection
        settings = args.stream

        stream_args = StreamArgs(
            connection=connection,
            stream_name=settings.name,
            subjects=list(settings.subjects),
            allow_data_loss=settings.allow_data_loss,
            keep_on_destroy=settings.keep_on_destroy,
            storage=settings.storage.value,
            retention=settings.retention.value,
            description=settings.description or None,
            max_age=settings.max_age,
            max_bytes=settings.max_bytes,
            max_msgs=settings.max_msgs,
            duplicate_window=settings.duplicate_window,
        )
        self.stream = Stream(
            f"{name}-stream",
            stream_args,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[args.nats] if args.nats else []
            ),
        )
        self.consumers = {
            consumer.name: Consumer(
                f"{name}-consumer-{consumer.name}",
                ConsumerArgs(
                    connection=connection,
                    stream_name=self.stream.stream_name,
                    stream_identity=stream_identity(stream_args),
                    durable_name=consumer.name,
                    deliver_policy=consumer.deliver_policy.value,
                    # Centrifugo requires a pull consumer with explicit acks.
                    ack_policy="explicit",
                    ack_wait=consumer.ack_wait,
                    max_deliver=consumer.max_deliver,
                    max_ack_pending=consumer.max_ack_pending,
                ),
                # A kept stream keeps its consumers' delivery positions too, so
                # the next `up` does not deliver every stored event again.
                opts=pulumi.ResourceOptions(
                    parent=self, retain_on_delete=settings.keep_on_destroy
                ),
            )
            for consumer in settings.consumers
        }
        self.register_outputs(
            {
                "stream_name": self.stream.stream_name,
                "consumer_names": list(self.consumers),
            }
        )
