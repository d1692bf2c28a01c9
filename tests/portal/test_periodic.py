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
    for task in [spec.task for spec in periodic.PERIODIC_TASKS] + periodic.ON_DEMAND_TASKS:
        assert task in app.tasks, task


def test_every_task_of_the_apps_is_declared_and_scheduled_by_migrate(db):
    """A task module's task that is not in PERIODIC_TASKS would never run on its own."""
    import importlib
    import inspect

    from celery import Task

    declared = {spec.task for spec in periodic.PERIODIC_TASKS}
    periodic_names = set()
    for app in ("keys",):  # apps whose tasks.py holds periodic jobs
        module = importlib.import_module(f"{app}.tasks")
        periodic_names |= {
            obj.name for _name, obj in inspect.getmembers(module) if isinstance(obj, Task)
        }
    # Tasks queued on demand (a key job) are declared as such; every other one is periodic.
    periodic_names -= set(periodic.ON_DEMAND_TASKS)
    assert periodic_names == {"keys.tasks.release_stale_reservations", "keys.tasks.sweep_key_jobs"}
    assert periodic_names <= declared
    # migrate's post_migrate hook put them in the beat schedule of the test database.
    periodic_tasks_sync()
    assert set(PeriodicTask.objects.values_list("task", flat=True)) >= declared
