import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_send(name: str, *args) -> None:
    """Queue the task called `name` ("keys.tasks.run_key_job") with these arguments.

    By name, so that code which queues a task never imports the tasks module: a task imports
    the services it runs, and a service importing its task back would be an import cycle.
    Raises kombu's OperationalError when the broker cannot be reached.
    """
    if not app.conf.task_always_eager:
        app.send_task(name, args=args)
        return
    # Eager mode (the tests): send_task would ignore it and go to a broker. This process is its
    # own worker, so it loads the apps' tasks as a worker does and runs the task here.
    if name not in app.tasks:
        app.autodiscover_tasks(force=True)
    app.tasks[name].delay(*args)
