"""Test-only stand-in for the pulumi-docker 5.2.0 provider plugin.

The real plugin (``pulumi-resource-docker``) is downloaded by Pulumi on first use, and
it cannot be downloaded on the machines this project is tested on. This package serves
the Pulumi resource provider gRPC protocol in its place, so that end-to-end tests can
run the unmodified program through the real Pulumi engine against the real Docker
engine.

It implements only the resources and fields the project uses, with pulumi-docker
5.2.0's semantics: ``Network``, ``Volume``, ``RemoteImage`` and ``Container``. Any other
field is refused by ``Check`` with a message naming it, so a program never silently
relies on behaviour the stand-in lacks.

Users never run this: it is installed into a temporary ``PULUMI_HOME`` by the tests
(see :mod:`tests.docker_standin.install`). It never pulls images.
"""

PLUGIN_VERSION = "5.2.0"
"""The pulumi-docker version the Python SDK asks the engine to load."""
