from django.urls import include, path

from tenants import api_key_views, import_views, views, webhook_views
from tenants.delegation import urls as delegation_urls

app_name = "tenants"


def tenant_pages(side: str) -> list:
    """The customer admin's users-and-licenses pages, built once and included twice: `customer`
    at /customer/ (their own tenant), `delegated` under /partner/customers/<pk>/ (a partner
    acting for the tenant, as far as the tenant rule allows). `tenant_url` links on the side a
    page is served on."""
    return [
        path("users/", views.customer_users, name=f"{side}_users"),
        path("users/add/", views.customer_user_add, name=f"{side}_user_add"),
        path("users/import/", import_views.customer_user_import, name=f"{side}_user_import"),
        path(
            "users/import/template.csv",
            import_views.customer_user_import_template,
            name=f"{side}_user_import_template",
        ),
        path(
            "users/import/<int:import_pk>/",
            import_views.customer_user_import_preview,
            name=f"{side}_user_import_preview",
        ),
        path(
            "users/import/<int:import_pk>/progress/",
            import_views.customer_user_import_progress,
            name=f"{side}_user_import_progress",
        ),
        path("users/<int:account_pk>/", views.customer_user, name=f"{side}_user"),
        path(
            "users/<int:account_pk>/remove/",
            views.customer_user_remove,
            name=f"{side}_user_remove",
        ),
        path(
            "users/<int:account_pk>/resend-activation/",
            views.customer_resend_activation,
            name=f"{side}_resend_activation",
        ),
        path(
            "users/<int:account_pk>/licenses/<int:subscription_pk>/assign/",
            views.customer_license_assign,
            name=f"{side}_license_assign",
        ),
        path(
            "users/<int:account_pk>/licenses/<int:subscription_pk>/unassign/",
            views.customer_license_unassign,
            name=f"{side}_license_unassign",
        ),
    ]


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
    path("partner/redeem/<int:pk>/customer/", views.create_tenant, name="create_tenant"),
    path(
        "partner/redeem/<int:pk>/customer/keep/",
        views.create_tenant_keep,
        name="create_tenant_keep",
    ),
    path("partner/domain-check/", views.domain_check, name="domain_check"),
    path("partner/api-keys/", api_key_views.api_keys, name="api_keys"),
    path(
        "partner/api-keys/<int:pk>/revoke/",
        api_key_views.api_key_revoke_confirm,
        name="api_key_revoke",
    ),
    path("partner/webhooks/", webhook_views.webhooks, name="webhooks"),
    path("partner/webhooks/add/", webhook_views.webhook_add, name="webhook_add"),
    path("partner/webhooks/<int:pk>/", webhook_views.webhook, name="webhook"),
    path("partner/webhooks/<int:pk>/edit/", webhook_views.webhook_edit, name="webhook_edit"),
    path(
        "partner/webhooks/<int:pk>/rotate-secret/",
        webhook_views.webhook_rotate,
        name="webhook_rotate",
    ),
    path("partner/webhooks/<int:pk>/enable/", webhook_views.webhook_enable, name="webhook_enable"),
    path(
        "partner/webhooks/<int:pk>/disable/", webhook_views.webhook_disable, name="webhook_disable"
    ),
    path("partner/webhooks/<int:pk>/delete/", webhook_views.webhook_delete, name="webhook_delete"),
    path("partner/webhooks/<int:pk>/test/", webhook_views.webhook_test, name="webhook_test"),
    path(
        "partner/webhooks/<int:pk>/deliveries/<int:delivery_pk>/",
        webhook_views.webhook_delivery,
        name="webhook_delivery",
    ),
    path(
        "partner/webhooks/<int:pk>/deliveries/<int:delivery_pk>/resend/",
        webhook_views.webhook_delivery_resend_view,
        name="webhook_delivery_resend",
    ),
    path("partner/customers/<int:pk>/", include(tenant_pages("delegated"))),
    path("customer/", views.customer_home, name="customer_home"),
    path("customer/", include(tenant_pages("customer"))),
    path("customer/licenses/", views.customer_licenses, name="customer_licenses"),
    path(
        "customer/users/<int:account_pk>/second-factor/reset/",
        views.customer_user_reset,
        name="customer_user_reset",
    ),
    path(
        "customer/subscriptions/<int:subscription_pk>/partner-of-record/",
        views.customer_partner_of_record,
        name="customer_partner_of_record",
    ),
    path("customer/activate/<uidb64>/<token>/", views.ActivateView.as_view(), name="activate"),
    path(
        "customer/activate/<uidb64>/<token>/renew/",
        views.renew_activation,
        name="activation_renew",
    ),
    *delegation_urls.urlpatterns,
]
