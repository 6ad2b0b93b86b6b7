"""Test-only stand-in for the pulumi-docker 5.2.0 provider plugin.

The real plugin (``pulumi-resource-docker``) is downloaded by Pulumi on first use, and
it cannot be downloaded on the machines this project is tested on. This package serves
the Pulumi resource provider gRPC protocol in its place, so that end-to-end tests can
run the unmodified program through the real Pulumi engine against the real Docker
engine. Users never run it: with a normal ``PULUMI_HOME`` Pulumi uses the real plugin.

It implements only the resources and fields the project uses, with pulumi-docker
5.2.0's semantics: ``Network``, ``Volume``, ``RemoteImage`` and ``Container``. Any other
field is refused by ``Check`` with a message naming it, so a program never silently
relies on behaviour the stand-in lacks. It never pulls images: a ``RemoteImage`` must
name an image built locally beforehand.

Using it in a test::

    from tests.docker_standin.install import install

    install(pulumi_home, sys.executable)  # a temporary PULUMI_HOME

then run the Pulumi CLI (Automation API or command line) with that ``PULUMI_HOME``,
``PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true`` and
``PULUMI_IGNORE_AMBIENT_PLUGINS=true``. Every ``up`` then shows the stand-in's banner
among the stack's diagnostics.
"""

PLUGIN_VERSION = "5.2.0"
"""The pulumi-docker version the Python SDK asks the engine to load."""
