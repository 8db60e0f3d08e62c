"""Writes the content-filter evaluation corpus (`messages.jsonl`) from `templates.txt`, reproducibly.

    .venv/bin/python apps/messaging/corpus/build.py

Each template is filled three times with varied operators, banks, wallets, amounts in riel and dollars (in Khmer
digits in a share of the Khmer messages), numbers, dates and links; repeated texts are kept once. A section
heading may name its split; otherwise every third template of the section goes to the test split and the rest to
train (the splits are described in `__init__.py`).
"""

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILLS_PER_TEMPLATE = 3
TEST_EVERY = 3
KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")
# Numbers that Khmer writers often type in Khmer digits.
NUMERIC_FIELDS = ("usd", "usd2", "riel", "small", "n", "date", "time", "minutes")

BRANDS = ["Smart", "Cellcard", "Metfone", "Wing", "ABA", "Grab", "PeerPower", "Nham24", "TrueMoney", "Pi Pay"]
TELCOS = ["Smart", "Cellcard", "Metfone", "Seatel"]
BANKS = ["ABA Bank", "ACLEDA", "Canadia Bank", "Wing Bank", "Prince Bank", "Sathapana", "PRASAC", "Chip Mong Bank"]
WALLETS = ["Wing", "TrueMoney", "Pi Pay", "ACLEDA ToanChet", "Bakong"]
MFIS = ["AMK", "LOLC", "Hattha Bank", "PRASAC", "Sathapana", "Kredit"]
ISPS = ["Ezecom", "Opennet", "SINET", "Today Communication"]
FOOD = ["Foodpanda", "Nham24", "E-GetS", "WowNow"]
SHOPS = ["Chip Mong Mall", "Aeon", "Lucky", "Khmer Closet", "Zando"]
COMPANIES = ["Smart Axiata", "Chip Mong Group", "Manulife Cambodia", "Prince Group", "Coca-Cola Cambodia"]
NAMES_KM = ["សុខ ដារ៉ា", "ចាន់ សុភាព", "កែវ វណ្ណា", "ហេង រតនា", "ស្រី នាង", "លី មេងហួរ"]
NAMES_EN = ["SOK DARA", "CHAN SOPHEAP", "KEO VANNA", "HENG RATHA", "Srey Neang", "Lim Menghour"]
PROVINCES_KM = ["សៀមរាប", "បាត់ដំបង", "កំពង់ចាម", "តាកែវ", "កំពត", "ព្រះសីហនុ", "ទួលគោក"]
PROVINCES_EN = ["Siem Reap", "Battambang", "Kampong Cham", "Takeo", "Kampot", "Sihanoukville", "Toul Kork"]
HOSPITALS_KM = ["កាល់ម៉ែត", "រ៉ូយ៉ាល់ភ្នំពេញ", "សាន់រ៉ាយស៍ជប៉ុន", "មិត្តភាពខ្មែរ-សូវៀត"]
HOSPITALS_EN = ["Calmette", "Royal Phnom Penh", "Sunrise Japan", "Khmer-Soviet Friendship"]
CLINICS_KM = ["ស្មាយល៍", "រំចង់", "ភ្នំពេញ"]
CLINICS_EN = ["Smile", "Roomchang", "Dental Plus"]
SCHOOLS = ["ទួលស្វាយព្រៃ", "ឫស្សីកែវ", "បឹងកេងកង", "អនុវត្ត"]
MONTHS_KM = "មករា កុម្ភៈ មីនា មេសា ឧសភា មិថុនា កក្កដា សីហា កញ្ញា តុលា វិច្ឆិកា ធ្នូ".split()
MONTHS_EN = "January February March April May June July August September October November December".split()
# Cambodian mobile prefixes (Smart, Cellcard, Metfone, Seatel) after the leading 0.
MOBILE_PREFIXES = [
    10,
    11,
    12,
    15,
    16,
    17,
    60,
    66,
    67,
    68,
    69,
    70,
    71,
    76,
    77,
    78,
    81,
    85,
    86,
    87,
    88,
    89,
    90,
    92,
    93,
    95,
]
USD = [50, 100, 200, 300, 500, 800, 1000, 1500, 2000, 3000, 5000, 10000]

SPAM_URLS = ["http://lucky-draw-kh.top/claim", "bit.ly/3{slug}", "www.reward-kh.vip", "https://gift-{slug}.club/get"]
PHISH_URLS = [
    "http://aba-verify.xyz/login",
    "https://acleda-kh.top/secure",
    "wing-pay.net/kyc",
    "http://bakong-nbc.site/{slug}",
    "https://canadia-secure.info/update",
    "tinyurl.com/{slug}",
    "http://103.86.{n}.12/aba",
    "https://my-ababank.click/verify",
]
GAMBLE_URLS = [
    "www.win888.vip",
    "https://kh-casino.bet/reg",
    "lucky99.club/kh",
    "http://bigwin.asia/join",
    "cutt.ly/{slug}",
]
LOAN_URLS = ["https://loan-kh.online/apply", "fastcash-kh.top", "bit.ly/{slug}", "http://easymoney.asia/form"]
INVEST_URLS = ["https://usdt-mine.pro/{slug}", "www.kh-invest.vip", "rb.gy/{slug}", "http://goldtrade.click/reg"]
ADULT_URLS = ["www.hotkh.xyz", "http://girls-pp.live/{slug}", "s.id/{slug}", "https://xclub.fun/kh"]


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def fields(rng: random.Random, language: str) -> dict[str, str]:
    khmer = language != "en"
    slug = "".join(rng.choice("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    n = str(rng.randrange(2, 60))
    values = {
        "brand": rng.choice(BRANDS),
        "telco": rng.choice(TELCOS),
        "bank": rng.choice(BANKS),
        "wallet": rng.choice(WALLETS),
        "mfi": rng.choice(MFIS),
        "isp": rng.choice(ISPS),
        "food": rng.choice(FOOD),
        "shop": rng.choice(SHOPS),
        "company": rng.choice(COMPANIES),
        "name": rng.choice(NAMES_KM if language == "km" else NAMES_EN),
        "province": rng.choice(PROVINCES_KM if khmer else PROVINCES_EN),
        "hospital": rng.choice(HOSPITALS_KM if khmer else HOSPITALS_EN),
        "clinic": rng.choice(CLINICS_KM if khmer else CLINICS_EN),
        "school": rng.choice(SCHOOLS),
        "month": rng.choice(MONTHS_KM),
        "month_en": rng.choice(MONTHS_EN),
        "phone": f"0{rng.choice(MOBILE_PREFIXES)}{digits(rng, rng.choice([6, 7]))}",
        "hotline": rng.choice(["023 999 999", "1800 20 1800", "023 225 333", "023 430 999"]),
        "usd": f"{rng.choice(USD):,}",
        "usd2": f"{rng.randrange(100, 900_000) / 100:,.2f}",
        "riel": f"{rng.randrange(5, 4_000) * 1_000:,}",
        "small": str(rng.randrange(1, 10)),
        "n": n,
        "code": digits(rng, rng.choice([4, 6, 6, 6])),
        "minutes": str(rng.choice([2, 3, 5, 10, 15])),
        "last4": digits(rng, 4),
        "acct": digits(rng, 9),
        "ref": f"{rng.choice(['FT', 'TX', 'BP'])}{digits(rng, 10)}",
        "loanno": f"LN{digits(rng, 7)}",
        "tracking": f"{rng.choice(['KH', 'JT', 'VET'])}{digits(rng, 9)}",
        "order": digits(rng, rng.choice([5, 6, 8])),
        "plate": f"2{rng.choice('ABCDEFGHK')}{rng.choice('ABCDEFGHK')}-{digits(rng, 4)}",
        "ussd": str(rng.choice([101, 111, 123, 124, 888, 999])),
        "date": f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/2026",
        "time": f"{rng.randrange(7, 21):02d}:{rng.choice(['00', '15', '30', '45'])}",
        "slug": slug,
        "tg": rng.choice([f"@{slug.lower()}_kh", f"t.me/{slug}", f"@vip{n}money"]),
    }
    for key, pool in (
        ("spam_url", SPAM_URLS),
        ("phish_url", PHISH_URLS),
        ("gamble_url", GAMBLE_URLS),
        ("loan_url", LOAN_URLS),
        ("invest_url", INVEST_URLS),
        ("adult_url", ADULT_URLS),
    ):
        values[key] = rng.choice(pool).format(slug=slug, n=n)
    if khmer and rng.random() < 0.4:
        for key in NUMERIC_FIELDS:
            values[key] = values[key].translate(KHMER_DIGITS)
    return values


def read_templates() -> list[tuple[str, str, str, str, str, int]]:
    """(label, category, language, split or "", template, index within its section) for each template line."""
    templates: list[tuple[str, str, str, str, str, int]] = []
    section: tuple[str, ...] | None = None
    index = 0
    for line in (HERE / "templates.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            label, category, language, *split = line[3:].split()
            section, index = (label, category, language, *split), 0
        elif line.strip() and not line.startswith("#") and section is not None:
            label, category, language, *split = section
            templates.append((label, category, language, split[0] if split else "", line.strip(), index))
            index += 1
    return templates


def build(seed: int = 18) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for label, category, language, fixed_split, template, index in read_templates():
        split = fixed_split or ("test" if index % TEST_EVERY == TEST_EVERY - 1 else "train")
        for fill in range(FILLS_PER_TEMPLATE):
            text = re.sub(r"\s+", " ", template.format(**fields(rng, language)))
            if text in seen:
                continue
            seen.add(text)
            rows.append(
                {
                    "id": f"{label}-{category}-{language}-{split}-{index + 1:02d}-{fill + 1}",
                    "split": split,
                    "label": label,
                    "category": category,
                    "language": language,
                    "text": text,
                }
            )
    return rows


def main() -> None:
    rows = build()
    with (HERE / "messages.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} messages written to {HERE / 'messages.jsonl'}")


if __name__ == "__main__":
    main()
