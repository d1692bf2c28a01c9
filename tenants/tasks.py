from celery import shared_task

from tenants.delegation.sweep import delegation_sweep as run_delegation_sweep
from tenants.services.user_imports import user_import_run, user_imports_sweep


@shared_task
def delegation_sweep() -> dict[str, int]:
    return run_delegation_sweep()


# Queued by tenants.services.user_imports for a large file of users (not periodic). Safe to run
# twice: the import is claimed first, and only a queued one can be.
@shared_task
def run_user_import(import_id: int) -> None:
    user_import_run(import_id=import_id)


@shared_task
def sweep_user_imports() -> dict[str, int]:
    return user_imports_sweep()
