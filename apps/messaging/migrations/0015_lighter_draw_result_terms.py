"""Lighter weights for the words a brand uses to announce its own lucky draw, and for "apply" in Khmer.

Together these words held legitimate messages on their own: a mall, a telco or a bank announcing its draw's
winners ("lucky draw" + "winner", "ចាប់ឆ្នោត" + "អ្នកឈ្នះ" weighed 50 to 95), wallets warning about prize scams
("you won a prize"), and a microfinance institution's "we never offer loans you did not ask for; apply only at a
branch" ("ផ្តល់កម្ចី" + "ដាក់ពាក្យ"): 24 of 2,169 legitimate corpus messages, about 1 %, twice the 0.5 % the whole
filter may hold. With these weights no combination of them reaches the hold score without a call to action (a
contact or an outside link: `lure_contact`), a fee or a credential word; the statistical model, which reads the
whole message, decides the rest. Chosen by cross-validation on the corpus (benchmarks/RESULTS.md, third round).

A weight staff have changed since it was seeded is left as they set it; reversing restores the seeded weight where
it is still the one set here.
"""

from django.db import migrations

# (term, language, seeded weight, new weight)
LIGHTER = [
    ("lucky draw", "en", 35, 15),
    ("raffle", "en", 30, 15),
    ("winner", "en", 15, 5),
    ("won", "en", 20, 10),
    ("you won", "en", 30, 15),
    ("prize", "en", 25, 10),
    ("congratulations", "en", 15, 10),
    ("ចាប់ឆ្នោត", "km", 30, 10),  # draw lots (lucky draw)
    ("ចាប់រង្វាន់", "km", 40, 15),  # prize draw
    ("អ្នកឈ្នះ", "km", 20, 5),  # winner
    ("ឈ្នះរង្វាន់", "km", 40, 20),  # win a prize
    ("ប្រាក់រង្វាន់", "km", 25, 10),  # prize money
    ("ទទួលរង្វាន់", "km", 20, 10),  # receive a prize
    ("សំណាង", "km", 20, 10),  # luck, lucky
    ("ដាក់ពាក្យ", "km", 15, 5),  # apply
]


def lighten(apps, schema_editor) -> None:
    FilterTerm = apps.get_model("messaging", "FilterTerm")
    for term, language, seeded, new in LIGHTER:
        FilterTerm.objects.filter(term=term, language=language, weight=seeded).update(weight=new)


def restore(apps, schema_editor) -> None:
    FilterTerm = apps.get_model("messaging", "FilterTerm")
    for term, language, seeded, new in LIGHTER:
        FilterTerm.objects.filter(term=term, language=language, weight=new).update(weight=seeded)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0014_message_organization_index_covered")]

    operations = [migrations.RunPython(lighten, restore)]
