"""zk-messenger: NATS JetStream and Centrifugo v6 on Docker, one stack per environment.

This file only reads the settings, builds the components and exports where
everything is; `components/` and `bootstrap/` hold the rest.
"""

import pulumi
import pulumi_docker as docker

from components.centrifugo import (
    PERSONAL_NAMESPACE,
    Centrifugo,
    CentrifugoArgs,
    ConsumerBinding,
)
from components.jetstream import EventStream, EventStreamArgs
from components.nats import NatsServer, NatsServerArgs
from components.secrets import StackSecrets, StackSecretsArgs
from components.settings import load_settings


def _host(address: str) -> str:
    """Returns the address to dial for a port published on `address`."""
    return "127.0.0.1" if address in ("0.0.0.0", "::") else address


settings = load_settings()
prefix = settings.prefix
labels = {"zk-messenger.stack": settings.stack}

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
        network_name=network.name,
        bind_address=settings.bind_address,
        client_port=settings.nats_port,
        monitor_port=settings.nats_monitor_port,
        labels=labels,
    ),
)
nats_url = f"nats://{_host(settings.bind_address)}:{settings.nats_port}"
events = EventStream(
    f"{prefix}-events",
    EventStreamArgs(
        servers=[nats_url],
        timeout=settings.provision_timeout,
        stream=settings.stream,
        consumer=settings.consumer,
        nats=nats.container,
    ),
)
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
            stream_name=settings.stream.name,
            subjects=settings.stream.subjects,
            durable_name=settings.consumer.name,
            deliver_policy=settings.consumer.deliver_policy.value,
            max_ack_pending=settings.consumer.max_ack_pending,
        ),
        consumer_ready=events.consumer,
        personal=settings.personal,
        allowed_origins=settings.allowed_origins,
        log_level=settings.log_level,
        token_hmac_secret=secrets.token_hmac_secret,
        api_key=secrets.api_key,
        admin_password=secrets.admin_password,
        admin_secret=secrets.admin_secret,
        labels=labels,
    ),
)

client_base = f"{_host(settings.client_bind_address)}:{settings.centrifugo_port}"
internal_base = (
    f"http://{_host(settings.bind_address)}:{settings.centrifugo_internal_port}"
)
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
pulumi.export("streamName", events.stream.stream_name)
pulumi.export("consumerName", events.consumer.durable_name)
pulumi.export("eventSubjects", list(settings.stream.subjects))
pulumi.export("personalNamespace", PERSONAL_NAMESPACE)
pulumi.export("networkName", network.name)
pulumi.export("natsVolumeName", nats.volume_name)
pulumi.export("natsContainerName", nats.container_name)
pulumi.export("centrifugoContainerName", centrifugo.container_name)
pulumi.export("tokenHmacSecret", secrets.token_hmac_secret)
pulumi.export("apiKey", secrets.api_key)
pulumi.export("adminPassword", secrets.admin_password)
pulumi.export("adminSecret", secrets.admin_secret)
