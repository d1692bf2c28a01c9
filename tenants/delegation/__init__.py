"""Delegated administration (design §4), in its own room inside `tenants`: offers
(`offers.py`), relationships (`relationships.py`), the daily sweep (`sweep.py`), the activity log
(`activity.py`), their e-mails (`emails.py`), and the pages (`views.py`, `forms.py`, `urls.py`).

Who may answer an offer or end a relationship is decided by the tenant rule (`tenants.access`);
the models are in `tenants.models.delegation`.
"""
