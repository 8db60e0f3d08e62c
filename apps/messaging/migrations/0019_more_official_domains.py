"""More official domains, each with the brand look-alike links imitate.

Phishing in the corpus's fitted splits imitates wallets, banks, telecoms and utilities beyond the five first seeded
("truemoney-fix.com", "prince-upgrade.cloud", "paypal-dispute.vip", "ppwsa-bill.xyz"), and a link to none of them
was read as a look-alike. Their real domains are official (never scored) and their names are compared with every
other link's host (`lookalike_domain`). A name of six letters or more counts inside any label ("mymetfonegift"),
a shorter one alone or with a bait word ("pipay-verify"); a brand left empty counts by its domain's first label
when that has five letters or more ("princebank"). Staff add the others in the admin as phishing is reported.

A rule staff already have for one of these domains is left as they set it; reversing deletes only rows still as
seeded here.
"""

from django.db import migrations

# (domain, brand, note)
ADDED_DOMAINS = [
    ("truemoney.com.kh", "truemoney", "TrueMoney Cambodia"),
    ("pipay.com", "pipay", "Pi Pay"),
    ("princebank.com.kh", "", "Prince Bank"),
    ("hatthabank.com", "hattha", "Hattha Bank"),
    ("sathapana.com.kh", "sathapana", "Sathapana Bank"),
    ("smart.com.kh", "", "Smart Axiata"),
    ("cellcard.com.kh", "cellcard", "Cellcard"),
    ("metfone.com.kh", "metfone", "Metfone"),
    ("edc.com.kh", "", "Electricité du Cambodge"),
    ("ppwsa.com.kh", "ppwsa", "Phnom Penh Water Supply Authority"),
    ("paypal.com", "paypal", "PayPal"),
]


def seed(apps, schema_editor) -> None:
    DomainRule = apps.get_model("messaging", "DomainRule")
    for domain, brand, note in ADDED_DOMAINS:
        DomainRule.objects.get_or_create(
            domain=domain, defaults={"kind": "official", "weight": 0, "brand": brand, "note": note}
        )


def unseed(apps, schema_editor) -> None:
    DomainRule = apps.get_model("messaging", "DomainRule")
    for domain, brand, note in ADDED_DOMAINS:
        DomainRule.objects.filter(domain=domain, kind="official", weight=0, brand=brand, note=note).delete()


class Migration(migrations.Migration):
    dependencies = [("messaging", "0018_index_prefixes_dropped")]

    operations = [migrations.RunPython(seed, unseed)]
