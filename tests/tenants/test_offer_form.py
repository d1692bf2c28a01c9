"""The "Send delegated admin offers" form: whatever is posted, the page answers (never a 500),
and an offer exists only when everything the rules ask is true."""

from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from portal.models import Partner, PartnerMembership, User
from tenants.models import DelegationOffer, Tenant

ROLES = ["global_admin", "user_admin", "license_admin", "billing_reader", "helpdesk"]


class OfferFormNeverGivesA500(HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        partner = Partner.objects.create(
            name="Northwind", partner_id="1000001", contact_email="c@northwind.example",
            cloud_program_enrolled=True,
        )  # fmt: skip
        cls.tenant = Tenant.objects.create(
            name="Contoso", domain_prefix="contoso", country="FR", created_by_partner=partner
        )
        cls.admin = User.objects.create_user("partner@northwind.example", "x")
        PartnerMembership.objects.create(user=cls.admin, partner=partner, role="admin")

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        tenant=st.one_of(st.just("own"), st.text(max_size=8)),
        roles=st.lists(st.one_of(st.sampled_from(ROLES), st.text(max_size=10)), max_size=6),
        duration=st.one_of(st.integers(-5, 1000).map(str), st.text(max_size=6)),
        auto_extend=st.sampled_from(["", "on"]),
        message=st.text(max_size=300),
    )
    def test_the_form_answers_whatever_is_posted(
        self, tenant, roles, duration, auto_extend, message
    ):
        cache.clear()
        DelegationOffer.objects.all().delete()  # one pending offer per customer
        self.client.force_login(self.admin)
        before = DelegationOffer.objects.count()
        data = {
            "tenant": str(self.tenant.pk) if tenant == "own" else tenant,
            "roles": roles,
            "duration_days": duration,
            "message": message,
        }
        if auto_extend:
            data["auto_extend"] = auto_extend
        response = self.client.post("/partner/delegated-admin/offers/new/", data)
        if "\x00" in message or any("\x00" in r for r in roles) or "\x00" in tenant + duration:
            self.assertEqual(response.status_code, 400)
            return
        self.assertIn(response.status_code, (200, 302))
        created = DelegationOffer.objects.count() - before
        valid = (
            tenant == "own"
            and roles
            and all(role in ROLES for role in roles)
            and duration.strip().isdigit()
            and 1 <= int(duration) <= 730
            and not (auto_extend and "global_admin" in roles)
            and not any(
                ch in message for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
            )
        )
        self.assertEqual(response.status_code == 302, created == 1)
        self.assertEqual(created, 1 if valid else 0)
