"""Factories for tests that need many rows; the small fixed cast lives in conftest.py."""

import datetime

import factory
from django.utils import timezone

from keys.models import Product
from tenants.models import DelegationOffer, DelegationRelationship, Subscription, Tenant


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ["sku"]

    sku = "BUS-STD"
    name = "Business Standard"
    term_months = 12


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Customer {n:04d}")
    domain_prefix = factory.Sequence(lambda n: f"customer{n:04d}")
    country = "FR"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    tenant = factory.SubFactory(TenantFactory)
    product = factory.SubFactory(ProductFactory)
    seats = 5
    start_date = datetime.date(2026, 1, 1)
    end_date = datetime.date(2026, 12, 31)
    created_by_partner = factory.SelfAttribute("tenant.created_by_partner")


class DelegationOfferFactory(factory.django.DjangoModelFactory):
    """A pending offer, sent now (the partner and the tenant are the caller's)."""

    class Meta:
        model = DelegationOffer

    roles = factory.LazyFunction(lambda: ["user_admin"])
    duration_days = 730
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + datetime.timedelta(days=90))


class DelegationRelationshipFactory(factory.django.DjangoModelFactory):
    """An active relationship, from an accepted offer, that started 10 days ago."""

    class Meta:
        model = DelegationRelationship

    offer = factory.LazyAttribute(
        lambda o: DelegationOfferFactory(
            partner=o.partner, tenant=o.tenant, roles=o.roles, state="accepted"
        )
    )
    roles = factory.LazyFunction(lambda: ["user_admin"])
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=10))
    ends_on = factory.LazyAttribute(lambda o: o.starts_on + datetime.timedelta(days=730))
