"""Starter content-filter rules: Khmer and English terms, common link shorteners, official bank domains.

Weights are set against the default thresholds (hold 50, reject 100): one strong term (casino, baccarat) holds a
message on its own, two clear signals reject it, and everyday words that spam also uses (congratulations, loan,
urgent) weigh little. Staff tune all of it in the admin; this migration only gives the filter a sensible start.
Terms are written in their normalised form (lower case, subscript TA rather than DA).
"""

from django.db import migrations

GAMBLING, SCAM, LOAN, PHISHING, ADULT, URGENCY, CREDENTIAL = (
    "gambling",
    "scam",
    "loan_shark",
    "phishing",
    "adult",
    "urgency",
    "credential",
)

# (term, language, category, weight, note)
STARTER_TERMS = [
    # Khmer — gambling
    ("កាស៊ីណូ", "km", GAMBLING, 60, "casino"),
    ("បាការ៉ា", "km", GAMBLING, 60, "baccarat"),
    ("ល្បែងស៊ីសង", "km", GAMBLING, 60, "gambling game"),
    ("ស៊ីសង", "km", GAMBLING, 40, "to gamble"),
    ("ភ្នាល់", "km", GAMBLING, 40, "to bet"),
    ("ចាក់ឆ្នោត", "km", GAMBLING, 30, "to play the lottery"),
    ("ឆ្នោត", "km", GAMBLING, 20, "lottery (not បោះឆ្នោត, to vote: the segmenter keeps that one word)"),
    ("ឈ្នះលុយ", "km", GAMBLING, 30, "win money"),
    # Khmer — scams
    ("ឈ្នះរង្វាន់", "km", SCAM, 40, "win a prize"),
    ("ទទួលរង្វាន់", "km", SCAM, 20, "receive a prize"),
    ("រង្វាន់ធំ", "km", SCAM, 20, "big prize"),
    ("អបអរសាទរ", "km", SCAM, 10, "congratulations (also legitimate)"),
    ("ប្រាក់ចំណេញខ្ពស់", "km", SCAM, 30, "high profit"),
    ("ធានាប្រាក់ចំណេញ", "km", SCAM, 40, "guaranteed profit"),
    ("ចំណូលខ្ពស់", "km", SCAM, 20, "high income"),
    ("រកលុយ", "km", SCAM, 15, "make money"),
    ("ការងារតាមអនឡាញ", "km", SCAM, 25, "online job (job-scam recruitment)"),
    # Khmer — loan sharks
    ("កម្ចីរហ័ស", "km", LOAN, 30, "fast loan"),
    ("គ្មានទ្រព្យធានា", "km", LOAN, 30, "no collateral"),
    ("ខ្ចីលុយ", "km", LOAN, 15, "borrow money"),
    # Khmer — phishing
    ("ផ្ទៀងផ្ទាត់គណនី", "km", PHISHING, 30, "verify (your) account"),
    ("ត្រូវបានផ្អាក", "km", PHISHING, 30, "has been suspended"),
    ("ត្រូវបានបង្កក", "km", PHISHING, 30, "has been frozen"),
    ("ចុចលើតំណ", "km", PHISHING, 10, "click the link"),
    # Khmer — signals for the phishing rule
    ("បន្ទាន់", "km", URGENCY, 5, "urgent"),
    ("ភ្លាមៗ", "km", URGENCY, 5, "immediately"),
    ("ឥឡូវនេះ", "km", URGENCY, 5, "now"),
    ("លេខកូដ", "km", CREDENTIAL, 0, "code (OTPs say it too: no weight alone)"),
    ("លេខសម្ងាត់", "km", CREDENTIAL, 0, "PIN"),
    ("ពាក្យសម្ងាត់", "km", CREDENTIAL, 0, "password"),
    # Khmer — adult
    ("រឿងសិច", "km", ADULT, 60, "porn film"),
    ("សិច", "km", ADULT, 40, "sex / porn"),
    # English — gambling
    ("casino", "en", GAMBLING, 60, ""),
    ("baccarat", "en", GAMBLING, 60, ""),
    ("sportsbook", "en", GAMBLING, 60, ""),
    ("roulette", "en", GAMBLING, 40, ""),
    ("jackpot", "en", GAMBLING, 40, ""),
    ("betting", "en", GAMBLING, 40, ""),
    ("place your bet", "en", GAMBLING, 40, ""),
    ("free spins", "en", GAMBLING, 50, ""),
    ("slot machine", "en", GAMBLING, 40, ""),
    ("lottery", "en", GAMBLING, 20, ""),
    # English — scams
    ("you have won", "en", SCAM, 40, ""),
    ("you won", "en", SCAM, 30, ""),
    ("claim your prize", "en", SCAM, 50, ""),
    ("claim your reward", "en", SCAM, 40, ""),
    ("winner", "en", SCAM, 15, ""),
    ("free money", "en", SCAM, 40, ""),
    ("easy money", "en", SCAM, 40, ""),
    ("double your money", "en", SCAM, 60, ""),
    ("guaranteed profit", "en", SCAM, 50, ""),
    ("guaranteed return", "en", SCAM, 50, ""),
    ("investment opportunity", "en", SCAM, 25, ""),
    ("processing fee", "en", SCAM, 30, ""),
    ("work from home", "en", SCAM, 20, ""),
    ("gift card", "en", SCAM, 15, ""),
    # English — loan sharks
    ("fast loan", "en", LOAN, 30, ""),
    ("instant loan", "en", LOAN, 30, ""),
    ("quick loan", "en", LOAN, 30, ""),
    ("easy loan", "en", LOAN, 30, ""),
    ("quick cash", "en", LOAN, 30, ""),
    ("no credit check", "en", LOAN, 40, ""),
    ("no collateral", "en", LOAN, 30, ""),
    ("loan approved", "en", LOAN, 30, ""),
    # English — phishing
    ("verify your account", "en", PHISHING, 40, ""),
    ("account suspended", "en", PHISHING, 40, ""),
    ("account has been suspended", "en", PHISHING, 40, ""),
    ("account is suspended", "en", PHISHING, 40, ""),
    ("account locked", "en", PHISHING, 40, ""),
    ("account has been locked", "en", PHISHING, 40, ""),
    ("account is locked", "en", PHISHING, 40, ""),
    ("confirm your identity", "en", PHISHING, 30, ""),
    ("unusual activity", "en", PHISHING, 20, ""),
    ("update your information", "en", PHISHING, 25, ""),
    # English — signals for the phishing rule
    ("urgent", "en", URGENCY, 5, ""),
    ("immediately", "en", URGENCY, 5, ""),
    ("act now", "en", URGENCY, 5, ""),
    ("within 24 hours", "en", URGENCY, 5, ""),
    ("final notice", "en", URGENCY, 5, ""),
    ("last chance", "en", URGENCY, 5, ""),
    ("password", "en", CREDENTIAL, 0, ""),
    ("pin", "en", CREDENTIAL, 0, ""),
    ("otp", "en", CREDENTIAL, 0, ""),
    ("login", "en", CREDENTIAL, 0, ""),
    ("log in", "en", CREDENTIAL, 0, ""),
    ("sign in", "en", CREDENTIAL, 0, ""),
    ("card number", "en", CREDENTIAL, 10, ""),
    ("cvv", "en", CREDENTIAL, 20, "no business asks for a card's CVV by SMS"),
    # English — adult
    ("porn", "en", ADULT, 60, ""),
    ("xxx", "en", ADULT, 40, ""),
    ("nude", "en", ADULT, 40, ""),
    ("escort", "en", ADULT, 40, ""),
    ("hot girls", "en", ADULT, 40, ""),
    ("sex", "en", ADULT, 30, ""),
]

# (domain, kind, weight, brand, note)
STARTER_DOMAINS = [
    *(
        (domain, "shortener", 25, "", "link shortener: hides where a link goes")
        for domain in (
            "bit.ly",
            "bitly.com",
            "tinyurl.com",
            "goo.gl",
            "ow.ly",
            "is.gd",
            "v.gd",
            "buff.ly",
            "rebrand.ly",
            "cutt.ly",
            "shorturl.at",
            "tiny.cc",
            "rb.gy",
            "t.ly",
            "s.id",
            "bl.ink",
            "lnkd.in",
            "qrco.de",
            "t.co",
        )
    ),
    ("adf.ly", "shortener", 50, "", "ad-paying shortener, often in front of malware"),
    ("shorte.st", "shortener", 50, "", "ad-paying shortener, often in front of malware"),
    # Official domains of the most imitated Cambodian banks and wallets: never scored, and what look-alikes are
    # compared with. Staff add the others (with their brand) as phishing is reported.
    ("ababank.com", "official", 0, "aba", "ABA Bank"),
    ("acledabank.com.kh", "official", 0, "acleda", "ACLEDA Bank"),
    ("wingbank.com.kh", "official", 0, "wing", "Wing Bank"),
    ("canadiabank.com.kh", "official", 0, "canadia", "Canadia Bank"),
    ("nbc.gov.kh", "official", 0, "bakong", "National Bank of Cambodia (Bakong)"),
]


def seed(apps, schema_editor) -> None:
    FilterTerm = apps.get_model("messaging", "FilterTerm")
    DomainRule = apps.get_model("messaging", "DomainRule")
    for term, language, category, weight, note in STARTER_TERMS:
        FilterTerm.objects.get_or_create(
            term=term, language=language, defaults={"category": category, "weight": weight, "note": note}
        )
    for domain, kind, weight, brand, note in STARTER_DOMAINS:
        DomainRule.objects.get_or_create(
            domain=domain, defaults={"kind": kind, "weight": weight, "brand": brand, "note": note}
        )


def unseed(apps, schema_editor) -> None:
    FilterTerm = apps.get_model("messaging", "FilterTerm")
    DomainRule = apps.get_model("messaging", "DomainRule")
    for term, language, *_ in STARTER_TERMS:
        FilterTerm.objects.filter(term=term, language=language).delete()
    DomainRule.objects.filter(domain__in=[domain for domain, *_ in STARTER_DOMAINS]).delete()


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
