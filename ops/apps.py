from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running the service: start-up refusals, health, metrics, the worker's heartbeat."""

    name = "ops"
    verbose_name = "Exploitation"

    def ready(self):
        from ops import checks  # registers the deployment checks

        del checks
