from celery import shared_task

from tenants.delegation.sweep import delegation_sweep as run_delegation_sweep


@shared_task
def delegation_sweep() -> dict[str, int]:
    return run_delegation_sweep()
