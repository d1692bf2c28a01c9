from celery import shared_task

from keys.services import key_job_run, key_jobs_sweep, reservations_release_stale


@shared_task
def release_stale_reservations() -> int:
    return reservations_release_stale()


@shared_task
def sweep_key_jobs() -> dict[str, int]:
    return key_jobs_sweep()


# Queued by keys.services.jobs when a large import or generation is asked for (not periodic).
# Safe to run twice: the job is claimed first, and only a queued job can be.
@shared_task
def run_key_job(job_id: int) -> None:
    key_job_run(job_id=job_id)
