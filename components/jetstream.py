"""The events stream and Centrifugo's durable consumer, provisioned in JetStream."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from bootstrap import ConnectionArgs, Consumer, ConsumerArgs, Stream, StreamArgs
from components.settings import ConsumerSettings, StreamSettings


@dataclass(frozen=True)
class EventStreamArgs:
    """What to provision and where.

    Attributes:
        servers: NATS URLs reachable from the machine running Pulumi.
        timeout: Seconds to wait for JetStream before failing.
        stream: The stream's settings.
        consumer: The durable consumer's settings.
        nats: The resource serving NATS; provisioning starts after it is healthy.
    """

    servers: list[str]
    timeout: float
    stream: StreamSettings
    consumer: ConsumerSettings
    nats: pulumi.Resource


class EventStream(pulumi.ComponentResource):
    """A file-backed stream of events and one durable pull consumer on it."""

    TYPE = "zk-messenger:index:EventStream"

    stream: Stream
    consumer: Consumer

    def __init__(
        self,
        name: str,
        args: EventStreamArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        connection = ConnectionArgs(servers=args.servers, timeout=args.timeout)

        self.stream = Stream(
            f"{name}-stream",
            StreamArgs(
                connection=connection,
                stream_name=args.stream.name,
                subjects=list(args.stream.subjects),
                storage="file",
                retention="limits",
                max_age=args.stream.max_age,
                max_bytes=args.stream.max_bytes,
                max_msgs=args.stream.max_msgs,
                duplicate_window=args.stream.duplicate_window,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.nats]),
        )
        self.consumer = Consumer(
            f"{name}-consumer",
            ConsumerArgs(
                connection=connection,
                stream_name=self.stream.stream_name,
                durable_name=args.consumer.name,
                deliver_policy=args.consumer.deliver_policy.value,
                # Centrifugo requires a pull consumer with explicit acks.
                ack_policy="explicit",
                ack_wait=args.consumer.ack_wait,
                max_deliver=args.consumer.max_deliver,
                max_ack_pending=args.consumer.max_ack_pending,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "stream_name": self.stream.stream_name,
                "consumer_name": self.consumer.durable_name,
            }
        )
