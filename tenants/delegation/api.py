"""The key inventory's API: checking product keys."""

urlpatterns = []
