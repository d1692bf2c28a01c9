import os

from celery import Celery, signals

from portal.logs import TASK_HEADER, current_request_id, current_task

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
    # own worker, so it loads the apps' tasks as a worker does and runs the task here (within
    # the request, whose id the task's lines keep: see _task_starts).
    if name not in app.tasks:
        app.autodiscover_tasks(force=True)
    app.tasks[name].delay(*args)


def _request_headers() -> dict[str, str]:
    request_id = current_request_id.get()
    return {TASK_HEADER: request_id} if request_id else {}


@signals.before_task_publish.connect
def _publishing(headers=None, **kwargs):
    """Every task queued while a request is served carries the request's id (beat's and the
    sweeps' tasks carry none)."""
    if headers is not None and TASK_HEADER not in headers:
        headers.update(_request_headers())


_tokens: dict[str, tuple] = {}


@signals.task_prerun.connect
def _task_starts(task_id=None, task=None, **kwargs):
    """The task's log lines name it and the request that queued it: from the message's headers
    in a worker (which puts them on the task's request), or, for a task run eagerly inside the
    request, the request's own id, already in place."""
    request_id = getattr(task.request, TASK_HEADER, None)
    if request_id is None and task.request.is_eager:
        request_id = current_request_id.get()
    _tokens[task_id] = (current_request_id.set(request_id), current_task.set((task.name, task_id)))


@signals.task_postrun.connect
def _task_ends(task_id=None, **kwargs):
    tokens = _tokens.pop(task_id, None)
    if tokens:
        current_request_id.reset(tokens[0])
        current_task.reset(tokens[1])


@signals.setup_logging.connect
def _keep_django_logging(**kwargs):
    """Celery would replace the root logger's handlers with its own format: Django's LOGGING
    (JSON or plain, with the request and task ids) stays instead, in workers and beat alike."""
