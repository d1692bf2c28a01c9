"""The REST API's shared parts (design, "API for partners' tools"): API keys (format, storage,
authentication), scopes, errors as problem+json, rate limits, idempotent writes, the base view.
Each app keeps its endpoints beside its views (`<app>/api.py`); `portal.api.urls` mounts them
under /api/v1/ by module name, so that portal imports no app."""
