from keys.models import ProductKey


def stored_digests(queryset=None) -> set[bytes]:
    """The digests in the inventory as bytes (PostgreSQL hands bytea back as memoryview)."""
    queryset = ProductKey.objects.all() if queryset is None else queryset
    return {bytes(digest) for digest in queryset.values_list("digest", flat=True)}
