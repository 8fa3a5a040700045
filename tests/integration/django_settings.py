"""The Django settings module of the integration tests (``DJANGO_SETTINGS_MODULE=django_settings``).

Each test puts its own ``CACHES`` in place with ``override_settings``.
"""

SECRET_KEY = "integration-tests-only"
USE_TZ = True
INSTALLED_APPS: list[str] = []
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
