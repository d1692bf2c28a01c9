"""Every periodic task of the portal, declared once.

`periodic_tasks_sync()` (run after each `migrate`, and by `manage.py sync_periodic_tasks`) puts
each entry into django-celery-beat's database schedule when it is missing. It never overwrites an
entry that exists: ops change the timing in the admin and that choice survives deployments.
(Celery's own `beat_schedule` setting is not used because the database scheduler rewrites the
stored entries from it at every start of beat.)
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    description: str
    minute: str = "*"
    hour: str = "*"


PERIODIC_TASKS: list[PeriodicTaskSpec] = [
    PeriodicTaskSpec(
        name="Release stale key reservations",
        task="keys.tasks.release_stale_reservations",
        description="Gives back keys held by redemptions that were not finished in time.",
        minute="*/10",
    ),
    PeriodicTaskSpec(
        name="Deliver queued e-mails",
        task="portal.tasks.deliver_outbox",
        description=(
            "Sends the e-mails still in the outbox: those whose delivery could not be started "
            "(broker down), whose worker died, or whose retry is due."
        ),
        minute="*",
    ),
    PeriodicTaskSpec(
        name="Send webhooks",
        task="portal.tasks.sweep_webhooks",
        description=(
            "Sends the webhook deliveries due: retries, those whose sending could not be started "
            "(broker down) and those whose worker died."
        ),
        minute="*",
    ),
    PeriodicTaskSpec(
        name="Clean the outbox",
        task="portal.tasks.clean_outbox",
        description=(
            "Deletes the e-mails sent more than OUTBOX_KEEP_SENT_DAYS days ago; queued and "
            "failed ones stay."
        ),
        minute="17",
        hour="3",
    ),
    PeriodicTaskSpec(
        name="Forget idempotent API requests",
        task="portal.tasks.forget_idempotent_requests",
        description=(
            "Deletes the API's kept answers to Idempotency-Key requests older than "
            "API_IDEMPOTENCY_HOURS hours."
        ),
        minute="23",
    ),
    PeriodicTaskSpec(
        name="Sweep key jobs",
        task="keys.tasks.sweep_key_jobs",
        description=(
            "Deletes generated keys nobody downloaded in time, fails key jobs whose worker "
            "died, queues again key jobs the broker lost."
        ),
        minute="*/10",
    ),
    PeriodicTaskSpec(
        name="Sweep imports of users",
        task="tenants.tasks.sweep_user_imports",
        description=(
            "Returns to their preview the imports of users whose process died, queues again "
            "those the broker lost, deletes unconfirmed and failed ones after a week."
        ),
        minute="*/10",
    ),
    PeriodicTaskSpec(
        name="Delegated administration sweep",
        task="tenants.tasks.delegation_sweep",
        description=(
            "Expires delegated-admin offers unanswered for 90 days and relationships past their "
            "end date, auto-extends those that ask for it, and sends the 30, 7, 1 and 0-day "
            "notices (each once)."
        ),
        minute="15",
        hour="0",
    ),
    PeriodicTaskSpec(
        name="Advance the subscription lifecycle",
        task="renewals.tasks.advance_lifecycle",
        description=(
            "Moves subscriptions past their end date to expired, disabled or deleted as their "
            "dates say, and e-mails each change once."
        ),
        minute="5",
        hour="*/6",
    ),
    PeriodicTaskSpec(
        name="Send renewal notices",
        task="renewals.tasks.send_renewal_notices",
        description=(
            "Sends the renewal notices due (60, 30, 7 and 1 days before the end date, as set "
            "in the admin), each once."
        ),
        minute="15",
        hour="*/6",
    ),
]

# Tasks that services queue when something asks for them: they are not scheduled, but they live
# in the apps' tasks.py too, and are listed here so that every task is declared in one place.
ON_DEMAND_TASKS: list[str] = [
    "keys.tasks.run_key_job",
    "portal.tasks.deliver_webhook",
]


def periodic_tasks_sync() -> list[str]:
    """Create the missing schedule entries; return the names created."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = []
    for spec in PERIODIC_TASKS:
        if PeriodicTask.objects.filter(name=spec.name).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=spec.minute,
            hour=spec.hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.create(
            name=spec.name, task=spec.task, crontab=crontab, description=spec.description
        )
        created.append(spec.name)
    return created
