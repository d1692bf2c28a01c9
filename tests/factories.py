"""Factories for tests that need many rows; the small fixed cast lives in conftest.py."""

import datetime

import factory

from keys.models import Product
from tenants.models import Subscription, Tenant


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
