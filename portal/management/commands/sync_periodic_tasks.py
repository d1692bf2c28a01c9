from django.core.management.base import BaseCommand

from portal.periodic import periodic_tasks_sync


class Command(BaseCommand):
    help = "Add the portal's periodic tasks to the beat schedule where missing (never overwrites)."

    def handle(self, *args, **options):
        created = periodic_tasks_sync()
        for name in created:
            self.stdout.write(f"added: {name}")
        self.stdout.write(self.style.SUCCESS(f"{len(created)} periodic task(s) added."))
