from django.shortcuts import render

from portal.access import partner_required


@partner_required
def partner_dashboard(request):
    return render(
        request,
        "tenants/partner_dashboard.html",
        {"partner": request.partner, "membership": request.membership},
    )
