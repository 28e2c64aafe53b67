from django.db import models


class Heartbeat(models.Model):
    """The last time a process of some kind proved it runs (`name`: "worker"), on the database
    clock. One row per name, rewritten in place; /readyz reads its age."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
