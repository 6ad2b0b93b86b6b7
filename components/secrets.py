"""The stack's secrets: taken from config when set, generated once otherwise.

A generated secret is a dynamic resource whose value is made on the first `up` and
kept, encrypted, in the stack's state; later runs reuse it. Setting the secret in
config (`pulumi config set --secret KEY VALUE`) replaces the generated one.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

from components.settings import GivenSecrets

# 32 random bytes: 256 bits of entropy, 43 URL-safe characters.
SECRET_BYTES = 32


class _GeneratedSecretProvider(ResourceProvider):
    """Makes a random URL-safe string once; a new length makes a new value."""

    # The provider captures nothing secret; the value itself is a secret output.
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        value = secrets.token_urlsafe(int(props["bytes"]))
        return CreateResult(uuid.uuid4().hex, {"bytes": props["bytes"], "value": value})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = int(olds["bytes"]) != int(news["bytes"])
        return DiffResult(changes=changed, replaces=["bytes"] if changed else [])


class GeneratedSecret(pulumi.dynamic.Resource, module="secrets", name="Generated"):
    """A random secret generated on the first `up` and kept in the state."""

    value: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        length_bytes: int = SECRET_BYTES,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["value"])
        )
        props = {"bytes": length_bytes, "value": None}
        super().__init__(_GeneratedSecretProvider(), resource_name, props, opts)


@dataclass(frozen=True)
class StackSecretsArgs:
    """Secrets set in config; None means generate.

    Attributes:
        given: The secrets read from stack config.
    """

    given: GivenSecrets


class StackSecrets(pulumi.ComponentResource):
    """Centrifugo's HMAC key, API key and admin credentials; NATS, Redis passwords."""

    TYPE = "zk-messenger:index:StackSecrets"

    token_hmac_secret: pulumi.Output[str]
    api_key: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    admin_secret: pulumi.Output[str]
    nats_admin_password: pulumi.Output[str]
    nats_publisher_password: pulumi.Output[str]
    nats_centrifugo_password: pulumi.Output[str]
    redis_password: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: StackSecretsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        given = args.given
        self.token_hmac_secret = self._secret(
            name, "token-hmac", given.token_hmac_secret
        )
        self.api_key = self._secret(name, "api-key", given.api_key)
        self.admin_password = self._secret(name, "admin-password", given.admin_password)
        self.admin_secret = self._secret(name, "admin-secret", given.admin_secret)
        self.nats_admin_password = self._secret(name, "nats-admin", None)
        self.nats_publisher_password = self._secret(name, "nats-publisher", None)
        self.nats_centrifugo_password = self._secret(name, "nats-centrifugo", None)
        self.redis_password = self._secret(name, "redis", None)
        self.register_outputs(
            {
                "token_hmac_secret": self.token_hmac_secret,
                "api_key": self.api_key,
                "admin_password": self.admin_password,
                "admin_secret": self.admin_secret,
                "nats_admin_password": self.nats_admin_password,
                "nats_publisher_password": self.nats_publisher_password,
                "nats_centrifugo_password": self.nats_centrifugo_password,
                "redis_password": self.redis_password,
            }
        )

    def _secret(
        self, name: str, purpose: str, given: pulumi.Output[str] | None
    ) -> pulumi.Output[str]:
        if given is not None:
            return pulumi.Output.secret(given)
        generated = GeneratedSecret(
            f"{name}-{purpose}", opts=pulumi.ResourceOptions(parent=self)
        )
        return pulumi.Output.secret(generated.value)
