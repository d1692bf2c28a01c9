from django_celery_beat.models import PeriodicTask

from portal import periodic
from portal.periodic import PeriodicTaskSpec, periodic_tasks_sync

SPEC = PeriodicTaskSpec(
    name="Test sweep", task="portal.tests.sweep", description="test", minute="5", hour="3"
)


def test_it_adds_a_declared_task_to_the_beat_schedule(db, monkeypatch):
    monkeypatch.setattr(periodic, "PERIODIC_TASKS", [SPEC])
    assert periodic_tasks_sync() == ["Test sweep"]
    task = PeriodicTask.objects.get(name="Test sweep")
    assert task.task == "portal.tests.sweep"
    assert (task.crontab.minute, task.crontab.hour) == ("5", "3")


def test_it_keeps_the_timing_ops_changed_in_the_admin(db, monkeypatch):
    monkeypatch.setattr(periodic, "PERIODIC_TASKS", [SPEC])
    periodic_tasks_sync()
    task = PeriodicTask.objects.get(name="Test sweep")
    task.crontab.minute = "45"
    task.crontab.save()
    assert periodic_tasks_sync() == []
    task.refresh_from_db()
    assert task.crontab.minute == "45"


def test_every_declared_task_is_registered_with_celery(db):
    from portal.celery import app

    app.loader.import_default_modules()
    for spec in periodic.PERIODIC_TASKS:
        assert spec.task in app.tasks, spec.task
