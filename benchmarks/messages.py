"""A realistic mix of Cambodian business SMS for the content-filter benchmark.

Templates of what clients send (OTPs, bank and wallet notices, top-ups, deliveries, appointments, utilities,
government notices), mostly in Khmer, some in English or both, plus spam of the kinds the filter exists for.
`generate()` fills them with varied codes, amounts, names and links, reproducibly.

Each spam template lists the Khmer starter terms a reader finds in it, to measure how many each segmenter lets the
filter find.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    body: str
    spam: bool
    khmer_terms: tuple[str, ...] = ()  # Khmer starter terms a reader sees in the message


KHMER_LEGITIMATE = [
    "លេខកូដផ្ទៀងផ្ទាត់ {brand} របស់អ្នកគឺ {code}។ លេខកូដនេះមានសុពលភាព {minutes} នាទី។ សូមកុំចែករំលែកជាមួយអ្នកដទៃ។",
    "{code} គឺជាលេខកូដសម្ងាត់សម្រាប់ចូលគណនី {brand} របស់អ្នក។ កុំប្រាប់លេខកូដនេះទៅនរណាម្នាក់។",
    "{bank}: គណនី ***{last4} របស់អ្នកបានទទួលប្រាក់ចំនួន {amount} USD ពី {name} នៅថ្ងៃទី {date} ម៉ោង {time}។ សមតុល្យ: {balance} USD។",
    "{bank}: បានដកប្រាក់ {amount} USD ពីគណនី ***{last4} នៅម៉ោង {time} ថ្ងៃទី {date}។ ប្រសិនបើមិនមែនជាអ្នកទេ សូមទូរស័ព្ទមក {hotline}។",
    "{telco}: អ្នកបានបញ្ចូលលុយចំនួន ${topup} ដោយជោគជ័យ។ សមតុល្យបច្ចុប្បន្នរបស់អ្នកគឺ ${balance}។ សូមអរគុណ!",
    "{telco}: ទិញកញ្ចប់អ៊ីនធឺណិត 10GB ត្រឹមតែ $1 ប្រើបាន 7 ថ្ងៃ។ ចុច *{ussd}# ដើម្បីទិញ។",
    "កញ្ចប់ឥវ៉ាន់លេខ {tracking} របស់អ្នកនឹងដឹកជញ្ជូនដល់នៅថ្ងៃស្អែក។ សូមទូរស័ព្ទមកលេខ {phone} ប្រសិនបើមានចម្ងល់។",
    "សួស្តី {name}! ការណាត់ជួបរបស់អ្នកនៅមន្ទីរពេទ្យកាល់ម៉ែត គឺនៅថ្ងៃទី {date} ម៉ោង {time}។ សូមមកដល់មុន ១៥ នាទី។",
    "គណៈកម្មាធិការជាតិរៀបចំការបោះឆ្នោត៖ សូមពិនិត្យឈ្មោះរបស់អ្នកក្នុងបញ្ជីបោះឆ្នោតមុនថ្ងៃទី {date}។",
    "អគ្គិសនីកម្ពុជា៖ វិក្កយបត្រអគ្គិសនីខែនេះរបស់អ្នកគឺ {riel} រៀល។ សូមបង់ប្រាក់មុនថ្ងៃទី {date}។",
    "{mfi}: ការបង់រំលស់ប្រាក់កម្ចីរបស់អ្នកចំនួន {amount} USD ដល់ថ្ងៃកំណត់នៅថ្ងៃទី {date}។ សូមអរគុណ។",
    "សាលារៀនរបស់យើងនឹងឈប់សម្រាកនៅថ្ងៃស្អែក ដោយសារបុណ្យភ្ជុំបិណ្ឌ។ សូមអរគុណចំពោះការយកចិត្តទុកដាក់។",
    "Your {brand} OTP is {code}. លេខកូដ {brand} របស់អ្នកគឺ {code}។",
    "ការបញ្ជាទិញលេខ {tracking} ត្រូវបានបញ្ជាក់។ តម្លៃសរុប {amount} USD។ យើងខ្ញុំនឹងទាក់ទងអ្នកក្នុងពេលឆាប់ៗ។",
]

ENGLISH_LEGITIMATE = [
    "Your {brand} verification code is {code}. It expires in {minutes} minutes. Do not share it with anyone.",
    "{bank}: USD {amount} was debited from your account ***{last4} on {date} {time}. "
    "Call {hotline} if this was not you.",
    "Your order #{tracking} has been shipped and will arrive tomorrow. Track it at https://shop.example.com/t/{slug}",
    "Reminder: your appointment at Royal Phnom Penh Hospital is on {date} at {time}. Reply to reschedule.",
    "{telco}: You have received 5GB bonus data valid for 7 days. Dial *{ussd}# to check your balance.",
    "Hi {name}, your ride receipt: USD {amount}. Thank you for riding with us.",
    "Your password was changed on {date}. If this wasn't you, contact support at {hotline}.",
    "Your parcel is on its way. Track it at bit.ly/{slug}",
]

# (template, Khmer starter terms in it)
KHMER_SPAM = [
    ("កាស៊ីណូអនឡាញ ភ្នាល់បាល់ទាត់ ឈ្នះលុយរាប់លាន! ចុះឈ្មោះឥឡូវនេះ {spam_url}", ("កាស៊ីណូ", "ភ្នាល់", "ឈ្នះលុយ", "ឥឡូវនេះ")),
    (
        "អបអរសាទរ! លេខរបស់អ្នកបានឈ្នះរង្វាន់ទូរស័ព្ទ iPhone 15។ សូមផ្ទេរប្រាក់ 20$ ថ្លៃដឹកជញ្ជូនដើម្បីទទួលរង្វាន់៖ bit.ly/{slug}",
        ("អបអរសាទរ", "ឈ្នះរង្វាន់", "ទទួលរង្វាន់"),
    ),
    ("ត្រូវការលុយបន្ទាន់? កម្ចីរហ័ស គ្មានទ្រព្យធានា ទូរស័ព្ទមក {phone}", ("បន្ទាន់", "កម្ចីរហ័ស", "គ្មានទ្រព្យធានា")),
    (
        "បន្ទាន់! គណនី {bank} របស់អ្នកត្រូវបានបង្កក។ សូមចុចលើតំណ ហើយបញ្ចូលលេខសម្ងាត់ភ្លាមៗ៖ http://{lookalike}/login",
        ("បន្ទាន់", "ត្រូវបានបង្កក", "ចុចលើតំណ", "លេខសម្ងាត់", "ភ្លាមៗ"),
    ),
    (
        "ការងារតាមអនឡាញ ចំណូលខ្ពស់ $50-$200 ក្នុងមួយថ្ងៃ ធានាប្រាក់ចំណេញ ទាក់ទង Telegram @{slug}",
        ("ការងារតាមអនឡាញ", "ចំណូលខ្ពស់", "ធានាប្រាក់ចំណេញ"),
    ),
    ("ចាក់ឆ្នោតយួន ឈ្នះលុយភ្លាមៗ បាការ៉ា ស៊ីសងអនឡាញ {spam_url}", ("ចាក់ឆ្នោត", "ឈ្នះលុយ", "ភ្លាមៗ", "បាការ៉ា", "ស៊ីសង")),
]

ENGLISH_SPAM = [
    "URGENT: Your {bank} account has been suspended. Verify your PIN now at http://{lookalike}/login",
    "Congratulations! You have won $5,000. Claim your prize at {spam_url} - processing fee $20 only",
    "Instant loan approved in 10 minutes! No collateral, no credit check. Call {phone}",
    "Best online casino in Cambodia! 100 free spins for new players. Place your bet at {spam_url}",
    "Double your money in 7 days! Guaranteed profit from crypto. Investment opportunity: t.me/{slug}",
]

BRANDS = ["PeerPower", "Wing", "ABA", "Grab", "Smart", "Cellcard", "Nham24", "Foodpanda"]
BANKS = ["ABA Bank", "ACLEDA", "Canadia Bank", "Wing Bank", "Prince Bank", "Sathapana"]
TELCOS = ["Smart", "Cellcard", "Metfone", "Seatel"]
MFIS = ["AMK", "LOLC", "Hattha Bank", "PRASAC"]
NAMES = ["SOK DARA", "CHAN SOPHEAP", "KEO VANNA", "LIM MENGHOUR", "SREY NEANG", "HENG RATHA", "Dara", "Sophea"]
LOOKALIKES = ["aba-verify.xyz", "acleda-kh.top", "wing-pay.net", "ab4bank.online", "canadia-secure.info"]
SPAM_URLS = ["www.win888.vip", "https://kh-casino.bet/reg", "lucky99.club/kh", "http://bigwin.asia/join"]


def _fields(rng: random.Random) -> dict[str, str]:
    return {
        "brand": rng.choice(BRANDS),
        "bank": rng.choice(BANKS),
        "telco": rng.choice(TELCOS),
        "mfi": rng.choice(MFIS),
        "name": rng.choice(NAMES),
        "code": f"{rng.randrange(10**6):06d}",
        "minutes": str(rng.choice([3, 5, 10])),
        "last4": f"{rng.randrange(10**4):04d}",
        "amount": f"{rng.randrange(100, 500_000) / 100:,.2f}",
        "balance": f"{rng.randrange(100, 5_000_000) / 100:,.2f}",
        "topup": str(rng.choice([1, 2, 5, 10, 20])),
        "riel": f"{rng.randrange(20, 900) * 100:,}",
        "date": f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/2026",
        "time": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
        "hotline": rng.choice(["023 999 999", "1800 20 1800", "023 225 333"]),
        "phone": f"0{rng.choice([10, 12, 15, 16, 17, 69, 70, 77, 78, 81, 85, 86, 87, 89, 92, 93, 95, 96, 97, 98])}"
        f"{rng.randrange(10**6):06d}",
        "tracking": f"KH{rng.randrange(10**8):08d}",
        "ussd": str(rng.choice([111, 123, 888, 999])),
        "slug": "".join(rng.choice("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(7)),
        "lookalike": rng.choice(LOOKALIKES),
        "spam_url": rng.choice(SPAM_URLS),
    }


def generate(count: int, *, seed: int = 2026) -> list[Sample]:
    """`count` messages: 60 % Khmer (or Khmer and English), 30 % English, 10 % spam in either language."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    for _ in range(count):
        fields = _fields(rng)
        roll = rng.random()
        if roll < 0.6:
            samples.append(Sample(rng.choice(KHMER_LEGITIMATE).format(**fields), spam=False))
        elif roll < 0.9:
            samples.append(Sample(rng.choice(ENGLISH_LEGITIMATE).format(**fields), spam=False))
        elif roll < 0.96:
            template, terms = rng.choice(KHMER_SPAM)
            samples.append(Sample(template.format(**fields), spam=True, khmer_terms=terms))
        else:
            samples.append(Sample(rng.choice(ENGLISH_SPAM).format(**fields), spam=True))
    return samples
