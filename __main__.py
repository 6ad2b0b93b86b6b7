"""zk-messenger: NATS JetStream and Centrifugo v6 on Docker, one stack per environment.

This file only reads the settings, builds the components and exports where
everything is; `components/` and `bootstrap/` hold the rest.
"""

import pulumi
import pulumi_docker as docker

from bootstrap import ConnectionArgs
from components.centrifugo import (
    PERSONAL_NAMESPACE,
    Centrifugo,
    CentrifugoArgs,
    ConsumerBinding,
)
from components.jetstream import StreamWithConsumers, StreamWithConsumersArgs
from components.nats import (
    ADMIN_INBOX,
    ADMIN_USER,
    CENTRIFUGO_USER,
    PUBLISHER_INBOX,
    PUBLISHER_USER,
    Durable,
    NatsServer,
    NatsServerArgs,
)
from components.redis import Redis, RedisArgs
from components.secrets import StackSecrets, StackSecretsArgs
from components.settings import load_settings


def _host(address: str) -> str:
    """Returns the address to dial for a port published on `address`."""
    return "127.0.0.1" if address in ("0.0.0.0", "::") else address


settings = load_settings()
prefix = settings.prefix
labels = {"zk-messenger.stack": settings.stack}
events_stream, centrifugo_consumer = settings.stream, settings.consumer

network = docker.Network(
    f"{prefix}-network",
    name=prefix,
    labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in labels.items()],
)
secrets = StackSecrets(f"{prefix}-secrets", StackSecretsArgs(given=settings.secrets))
nats = NatsServer(
    f"{prefix}-nats",
    NatsServerArgs(
        image=settings.nats_image,
        running=settings.services_running,
        keep_volume=settings.keep_data,
        network_name=network.name,
        bind_address=settings.bind_address,
        client_port=settings.nats_port,
        monitor_port=settings.nats_monitor_port,
        event_subjects=[s for stream in settings.streams for s in stream.subjects],
        durables=[Durable(events_stream.name, centrifugo_consumer.name)],
        admin_password=secrets.nats_admin_password,
        publisher_password=secrets.nats_publisher_password,
        centrifugo_password=secrets.nats_centrifugo_password,
        labels=labels,
    ),
)

nats_url = f"nats://{_host(settings.bind_address)}:{settings.nats_port}"
streams = [
    StreamWithConsumers(
        # The events stream keeps one resource name whatever it is called, so that
        # renaming it is a change the data-loss guard can see.
        f"{prefix}-events" if index == 0 else f"{prefix}-stream-{stream.name}",
        StreamWithConsumersArgs(
            connection=ConnectionArgs(
                servers=[nats_url],
                timeout=settings.provision_timeout,
                user=ADMIN_USER,
                password=secrets.nats_admin_password,
                inbox_prefix=ADMIN_INBOX,
            ),
            stream=stream,
            nats=nats.container,
        ),
    )
    for index, stream in enumerate(settings.streams)
]

redis = Redis(
    f"{prefix}-redis",
    RedisArgs(
        image=settings.redis_image,
        network_name=network.name,
        password=secrets.redis_password,
        running=settings.services_running,
        keep_volume=settings.keep_data,
        labels=labels,
    ),
)

# The containers exist exactly while the services run.
if nats.container is not None and redis.container is not None:
    centrifugo = Centrifugo(
        f"{prefix}-centrifugo",
        CentrifugoArgs(
            image=settings.centrifugo_image,
            network_name=network.name,
            bind_address=settings.bind_address,
            client_bind_address=settings.client_bind_address,
            port=settings.centrifugo_port,
            internal_port=settings.centrifugo_internal_port,
            consumer=ConsumerBinding(
                nats_url=nats.internal_url,
                stream_name=events_stream.name,
                subjects=events_stream.subjects,
                durable_name=centrifugo_consumer.name,
                deliver_policy=centrifugo_consumer.deliver_policy.value,
                max_ack_pending=centrifugo_consumer.max_ack_pending,
                nats_user=CENTRIFUGO_USER,
            ),
            redis_url=redis.url,
            start_after=[
                streams[0].consumers[centrifugo_consumer.name],
                nats.container,
                redis.container,
            ],
            personal=settings.personal,
            allowed_origins=settings.allowed_origins,
            log_level=settings.log_level,
            token_hmac_secret=secrets.token_hmac_secret,
            api_key=secrets.api_key,
            admin_password=secrets.admin_password,
            admin_secret=secrets.admin_secret,
            nats_password=secrets.nats_centrifugo_password,
            redis_password=secrets.redis_password,
            labels=labels,
        ),
    )
    pulumi.export("centrifugoContainerName", centrifugo.container_name)
    pulumi.export("natsContainerName", nats.container_name)
    pulumi.export("redisContainerName", redis.container.name)

client_base = f"{_host(settings.client_bind_address)}:{settings.centrifugo_port}"
internal_base = (
    f"http://{_host(settings.bind_address)}:{settings.centrifugo_internal_port}"
)
pulumi.export("servicesRunning", settings.services_running)
pulumi.export("centrifugoWebsocketUrl", f"ws://{client_base}/connection/websocket")
pulumi.export("centrifugoSseUrl", f"http://{client_base}/connection/uni_sse")
pulumi.export("centrifugoApiUrl", f"{internal_base}/api")
pulumi.export("centrifugoAdminUrl", f"{internal_base}/")
pulumi.export("centrifugoMetricsUrl", f"{internal_base}/metrics")
pulumi.export("centrifugoHealthUrl", f"{internal_base}/health")
pulumi.export("natsUrl", nats_url)
pulumi.export(
    "natsMonitorUrl",
    f"http://{_host(settings.bind_address)}:{settings.nats_monitor_port}",
)
pulumi.export("natsPublisherUser", PUBLISHER_USER)
pulumi.export("natsPublisherPassword", secrets.nats_publisher_password)
pulumi.export("natsPublisherInboxPrefix", PUBLISHER_INBOX)
pulumi.export("natsAdminUser", ADMIN_USER)
pulumi.export("natsAdminPassword", secrets.nats_admin_password)
pulumi.export("natsAdminInboxPrefix", ADMIN_INBOX)
pulumi.export("streamName", streams[0].stream.stream_name)
pulumi.export("consumerName", centrifugo_consumer.name)
pulumi.export("streamNames", [s.stream.stream_name for s in streams])
pulumi.export("eventSubjects", list(events_stream.subjects))
pulumi.export("personalNamespace", PERSONAL_NAMESPACE)
pulumi.export("networkName", network.name)
pulumi.export("natsVolumeName", nats.volume_name)
pulumi.export("redisVolumeName", redis.volume_name)
pulumi.export("tokenHmacSecret", secrets.token_hmac_secret)
pulumi.export("apiKey", secrets.api_key)
pulumi.export("adminPassword", secrets.admin_password)
pulumi.export("adminSecret", secrets.admin_secret)
