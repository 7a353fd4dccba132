from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "leadflow.core"
    label = "core"

    def ready(self) -> None:
        checks.register(check_trusted_proxies)
        # Registers Leadflow's deployment checks (`check --deploy`).
        from leadflow.core import deploy  # noqa: F401


def check_trusted_proxies(app_configs=None, **kwargs):
    """`leadflow check` (and every start) names a TRUSTED_PROXIES entry that is no address."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from leadflow.core.clientaddress import parse_networks

    try:
        parse_networks(tuple(settings.TRUSTED_PROXIES))
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="leadflow.E001")]
    return []
