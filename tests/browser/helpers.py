"""Helpers the browser tests share: signing in, finding a field by its label, and the words of
the redeem flow in English and French."""

import re


def sign_in(page, live_server, email: str, password: str = "portal-demo") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()


def field(page, label):
    """A form field by its exact label (crispy-forms adds an asterisk to required ones)."""
    return page.get_by_label(re.compile(r"^\s*" + re.escape(label) + r"\s*\*?\s*$"))


# The redeem flow (steps 1 and 2, the customer's activation) as the pages word it.
REDEEM_WORDS = {
    "en": {
        "locale": "en-US",
        "redeem": "Redeem product keys",
        "understand": "I understand. I'm the most appropriate person to do this for my "
        "organization.",
        "start": "Start",
        "add": "Add another product key",
        "next": "Next",
        "review": "Does everything look right?",
        "done": "Done adding product keys",
        "getting_started": "Getting started",
        "step2": "Start step 2",
        "create": "Create my account",
        "resume": "Resume",
        "ready": "The account of Contoso is ready",
        "activate": "Activate my account",
        "country": "Country or region",
        "org": "Organization name",
        "first": "Administrator's first name",
        "last": "Administrator's last name",
        "email": "Administrator's e-mail address",
        "phone": "Administrator's phone number",
        "language": "Preferred language",
        "prefix": "Domain prefix",
        "available": "contoso.cloudsuite.example is available.",
        "used": "1 of 6 used",
    },
    "fr": {
        "locale": "fr-FR",
        "redeem": "Récupérer les clés de produit",
        "understand": "Je comprends. Je suis la personne la plus apte à effectuer cette action "
        "pour mon organisation",
        "start": "Démarrer",
        "add": "Ajouter une autre clé de produit",
        "next": "Suivant",
        "review": "Tout vous semble-t-il correct ?",
        "done": "Ajout des clés de produit terminé",
        "getting_started": "Mise en route",
        "step2": "Démarrer l’étape 2",
        "create": "Créer mon compte",
        "resume": "Reprendre",
        "ready": "Le compte de Contoso est prêt",
        "activate": "Activer mon compte",
        "country": "Pays ou région",
        "org": "Nom de l’organisation",
        "first": "Prénom de l’administrateur",
        "last": "Nom de l’administrateur",
        "email": "Adresse e-mail de l’administrateur",
        "phone": "Téléphone de l’administrateur",
        "language": "Langue préférée",
        "prefix": "Préfixe de domaine",
        "available": "contoso.cloudsuite.example est disponible.",
        "used": "1 sur 6 utilisées",
    },
}
