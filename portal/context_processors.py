from portal.access import customer_user_account, partner_membership


def portal(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_membership": partner_membership(user),
        "nav_customer": customer_user_account(user),
    }
