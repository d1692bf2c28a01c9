"""At most one pending offer and one active relationship per (partner, tenant). Duplicates made
before this rule are settled first: the newest stays, older pending offers are withdrawn and
older active relationships terminated."""

from django.db import migrations, models
from django.utils import timezone


def settle_duplicates(apps, schema_editor):
    Offer = apps.get_model("tenants", "DelegationOffer")
    Relationship = apps.get_model("tenants", "DelegationRelationship")
    now = timezone.now()
    seen = set()
    for offer in Offer.objects.filter(state="pending").order_by("-created_at", "-id"):
        key = (offer.partner_id, offer.tenant_id)
        if key in seen:
            Offer.objects.filter(pk=offer.pk).update(state="withdrawn", answered_at=now)
        seen.add(key)
    seen = set()
    for relationship in Relationship.objects.filter(state="active").order_by(
        "-created_at", "-id"
    ):
        key = (relationship.partner_id, relationship.tenant_id)
        if key in seen:
            Relationship.objects.filter(pk=relationship.pk).update(
                state="terminated", ended_at=now
            )
        seen.add(key)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_normalized_email_addresses"),
        ("tenants", "0009_subscription_renewal_schedule"),
    ]

    operations = [
        migrations.RunPython(settle_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="delegationoffer",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "pending")),
                fields=("partner", "tenant"),
                name="delegation_offer_one_pending",
            ),
        ),
        migrations.AddConstraint(
            model_name="delegationrelationship",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "active")),
                fields=("partner", "tenant"),
                name="delegation_relationship_one_active",
            ),
        ),
    ]
