"""Every input of the admin has a name a screen reader can say (portal/admin.py, the admin's
templates). The accessibility sweep (tests/browser/test_accessibility.py) checks the pages
under axe; these say what each fix is, without a browser."""

import re

from tests.portal.test_outbox_admin import failed_email


def inputs(page: str, name: str) -> list[str]:
    return re.findall(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', page)


def test_it_names_both_inputs_of_a_date_and_time_field(client, staff):
    email = failed_email()
    client.force_login(staff)
    page = client.get(f"/admin/post_office/email/{email.pk}/change/").content.decode()
    [date] = inputs(page, "scheduled_time_0")
    [time] = inputs(page, "scheduled_time_1")
    assert 'aria-label="Scheduled Time, date"' in date
    assert 'aria-label="Scheduled Time, time"' in time


def test_it_names_the_inputs_of_a_tabular_inline_after_their_column(
    client, staff, northwind, partner_admin
):
    client.force_login(staff)
    page = client.get(f"/admin/portal/partner/{northwind.pk}/change/").content.decode()
    [role] = inputs(page, "memberships-0-role")
    [delete] = inputs(page, "memberships-0-DELETE")
    [user] = inputs(page, "memberships-0-user")
    [created] = inputs(page, "memberships-0-created_at_0")
    assert 'aria-label="Role"' in role
    assert 'aria-label="Delete"' in delete
    assert 'aria-label="User"' in user
    assert 'aria-label="Created, date"' in created  # not the column's name twice


def test_the_search_box_has_a_visible_label(client, staff):
    client.force_login(staff)
    page = client.get("/admin/keys/productkey/").content.decode()
    label = re.search(r'<label for="searchbar">(.*?)</label>', page).group(1)
    assert 'alt=""' in label  # the icon is decoration now
    assert label.split(">")[-1].strip() == "Search"
    assert 'aria-describedby="searchbar_helptext"' in page
