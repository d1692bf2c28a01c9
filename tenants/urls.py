from django.urls import path

from tenants import views, views_delegation

app_name = "tenants"

urlpatterns = [
    path("partner/", views.partner_dashboard, name="partner_dashboard"),
    path("partner/customers/", views.partner_customers, name="partner_customers"),
    path("partner/customers/<int:pk>/", views.partner_customer, name="partner_customer"),
    path("partner/customers/<int:pk>/created/", views.tenant_created, name="tenant_created"),
    path(
        "partner/customers/<int:pk>/add-licenses/",
        views.customer_keys,
        {"intent": "add_licenses"},
        name="add_licenses",
    ),
    path(
        "partner/customers/<int:pk>/renew/",
        views.customer_keys,
        {"intent": "renew"},
        name="renew",
    ),
    path("partner/redeem/<int:pk>/apply/", views.apply_keys, name="apply_keys"),
    path(
        "partner/customers/<int:pk>/admins/<int:account_pk>/resend-activation/",
        views.resend_activation,
        name="resend_activation",
    ),
    # Acting for the customer (delegated administration): the customer admin's pages, for the
    # tenant in the URL, as far as the tenant rule allows.
    path("partner/customers/<int:pk>/users/", views.customer_users, name="delegated_users"),
    path(
        "partner/customers/<int:pk>/users/add/",
        views.customer_user_add,
        name="delegated_user_add",
    ),
    path(
        "partner/customers/<int:pk>/users/<int:account_pk>/",
        views.customer_user,
        name="delegated_user",
    ),
    path(
        "partner/customers/<int:pk>/users/<int:account_pk>/remove/",
        views.customer_user_remove,
        name="delegated_user_remove",
    ),
    path(
        "partner/customers/<int:pk>/users/<int:account_pk>/send-activation/",
        views.customer_resend_activation,
        name="delegated_resend_activation",
    ),
    path(
        "partner/customers/<int:pk>/users/<int:account_pk>/licenses/<int:subscription_pk>/assign/",
        views.customer_license_assign,
        name="delegated_license_assign",
    ),
    path(
        "partner/customers/<int:pk>/users/<int:account_pk>/licenses/<int:subscription_pk>/unassign/",
        views.customer_license_unassign,
        name="delegated_license_unassign",
    ),
    # Delegated-admin offers and relationships, the partner's side.
    path("partner/delegated-admin/", views_delegation.partner_delegation, name="delegation"),
    path(
        "partner/delegated-admin/offers/new/",
        views_delegation.offer_new,
        name="offer_new",
    ),
    path(
        "partner/delegated-admin/offers/<int:offer_pk>/withdraw/",
        views_delegation.offer_withdraw_view,
        name="offer_withdraw",
    ),
    path(
        "partner/delegated-admin/offers/<int:offer_pk>/resend/",
        views_delegation.offer_resend_view,
        name="offer_resend",
    ),
    path(
        "partner/delegated-admin/relationships/<int:relationship_pk>/terminate/",
        views_delegation.partner_relationship_terminate,
        name="relationship_terminate",
    ),
    path("partner/activity/", views_delegation.partner_activity, name="partner_activity"),
    path(
        "partner/activity/export/",
        views_delegation.partner_activity_export,
        name="partner_activity_export",
    ),
    path("partner/redeem/<int:pk>/customer/", views.create_tenant, name="create_tenant"),
    path(
        "partner/redeem/<int:pk>/customer/keep/",
        views.create_tenant_keep,
        name="create_tenant_keep",
    ),
    path("partner/domain-check/", views.domain_check, name="domain_check"),
    path("customer/", views.customer_home, name="customer_home"),
    path("customer/licenses/", views.customer_licenses, name="customer_licenses"),
    path("customer/users/", views.customer_users, name="customer_users"),
    path(
        "customer/subscriptions/<int:subscription_pk>/partner-of-record/",
        views.customer_partner_of_record,
        name="customer_partner_of_record",
    ),
    path("customer/users/add/", views.customer_user_add, name="customer_user_add"),
    path("customer/users/<int:account_pk>/", views.customer_user, name="customer_user"),
    path(
        "customer/users/<int:account_pk>/remove/",
        views.customer_user_remove,
        name="customer_user_remove",
    ),
    path(
        "customer/users/<int:account_pk>/resend-activation/",
        views.customer_resend_activation,
        name="customer_resend_activation",
    ),
    path(
        "customer/users/<int:account_pk>/licenses/<int:subscription_pk>/assign/",
        views.customer_license_assign,
        name="customer_license_assign",
    ),
    path(
        "customer/users/<int:account_pk>/licenses/<int:subscription_pk>/unassign/",
        views.customer_license_unassign,
        name="customer_license_unassign",
    ),
    # Delegated-admin offers and relationships, the customer's side.
    path(
        "customer/partner-relationships/",
        views_delegation.customer_relationships,
        name="customer_relationships",
    ),
    path(
        "customer/partner-relationships/offers/<int:offer_pk>/",
        views_delegation.offer_answer_view,
        name="offer_answer",
    ),
    path(
        "customer/partner-relationships/<int:relationship_pk>/remove-roles/",
        views_delegation.customer_relationship_terminate,
        name="customer_relationship_terminate",
    ),
    path("customer/offer/<str:token>/", views_delegation.offer_link, name="offer_link"),
    path("customer/activity/", views_delegation.customer_activity, name="customer_activity"),
    path(
        "customer/activity/export/",
        views_delegation.customer_activity_export,
        name="customer_activity_export",
    ),
    path("customer/activate/<uidb64>/<token>/", views.ActivateView.as_view(), name="activate"),
    path(
        "customer/activate/<uidb64>/<token>/renew/",
        views.renew_activation,
        name="activation_renew",
    ),
]
