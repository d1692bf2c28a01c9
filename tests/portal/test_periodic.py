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


def _project_task_modules():
    """The `tasks` module of every installed app that is part of this project (not a package)."""
    import importlib
    import importlib.util
    from pathlib import Path

    from django.apps import apps
    from django.conf import settings

    modules = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if not path.is_relative_to(settings.BASE_DIR) or "site-packages" in path.parts:
            continue
        if importlib.util.find_spec(f"{config.name}.tasks") is not None:
            modules.append(importlib.import_module(f"{config.name}.tasks"))
    return modules


def _queued_by_the_code(function_name: str, task_name: str) -> bool:
    """Whether the project's code queues this task itself: `.delay(`, `.apply_async(`, or by
    name through `task_send("<task name>"` (which needs no import of the task's module)."""
    import re
    from pathlib import Path

    from django.conf import settings

    pattern = re.compile(
        rf"\b{re.escape(function_name)}\.(delay|apply_async)\("
        rf"|\btask_send\(\s*[\"']{re.escape(task_name)}[\"']"
    )
    for path in Path(settings.BASE_DIR).glob("*/**/*.py"):
        parts = path.relative_to(settings.BASE_DIR).parts
        if parts[0] in {".venv", "tests", "bench", "var"} or "migrations" in parts:
            continue
        if pattern.search(path.read_text()):
            return True
    return False


def test_every_task_of_the_apps_is_declared_or_queued_by_the_code(db):
    """A task that nothing queues and PERIODIC_TASKS does not declare would never run."""
    import inspect

    from celery import Task

    from portal.celery import app

    app.loader.import_default_modules()
    found = {}
    for module in _project_task_modules():
        for name, task in inspect.getmembers(module, lambda obj: isinstance(obj, Task)):
            if task.name.startswith(f"{module.__name__}."):  # defined here, not imported
                found[task.name] = name
    assert {"keys.tasks.release_stale_reservations"} <= set(found)  # the walk finds tasks
    assert set(found) <= set(app.tasks)  # every one is registered with Celery
    declared = {spec.task for spec in periodic.PERIODIC_TASKS}
    never_run = {
        name for name, function in found.items() if not _queued_by_the_code(function, name)
    }
    assert _queued_by_the_code("run_key_job", "keys.tasks.run_key_job")  # sent by name
    on_demand = set(periodic.ON_DEMAND_TASKS)
    assert never_run - declared - on_demand == set()
    assert declared | on_demand <= set(found)


def test_migrate_puts_every_declared_task_in_the_beat_schedule(db):
    from django.core.management.sql import emit_post_migrate_signal

    PeriodicTask.objects.all().delete()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    declared = {spec.task for spec in periodic.PERIODIC_TASKS}
    assert set(PeriodicTask.objects.values_list("task", flat=True)) == declared
