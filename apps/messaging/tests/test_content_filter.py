"""Filter decisions on real Khmer and English messages, with the starter rules the migration seeds."""

import pytest

from apps.messaging.choices import FilterAction
from apps.messaging.filtering import check_content
from apps.messaging.filtering.engine import ContentFilter
from apps.messaging.filtering.starter import starter_domains, starter_terms

pytestmark = pytest.mark.django_db

ALLOW, HOLD, REJECT = FilterAction.ALLOW, FilterAction.HOLD, FilterAction.REJECT

LEGITIMATE = [
    # OTP in Khmer: "Your PeerPower verification code is 482913. It is valid for 5 minutes. Do not share it."
    "លេខកូដផ្ទៀងផ្ទាត់ PeerPower របស់អ្នកគឺ 482913។ លេខកូដនេះមានសុពលភាព 5 នាទី។ សូមកុំចែករំលែកជាមួយអ្នកដទៃ។",
    # Bank notice: "Your account received 150.00 USD from SOK DARA on 12/03/2025 14:32. Balance 1,240.50 USD."
    "ABA Bank: គណនី ***1234 របស់អ្នកបានទទួលប្រាក់ចំនួន 150.00 USD ពី SOK DARA នៅថ្ងៃទី 12/03/2025 ម៉ោង 14:32។ សមតុល្យ: 1,240.50 USD។",
    # Election notice: "National Election Committee: check your name on the voter list" — ឆ្នោត inside បោះឆ្នោត.
    "គណៈកម្មាធិការជាតិរៀបចំការបោះឆ្នោត៖ សូមពិនិត្យឈ្មោះរបស់អ្នកក្នុងបញ្ជីបោះឆ្នោត",
    # Delivery: "Your parcel will be delivered tomorrow. Call 012345678 if you have questions."
    "កញ្ចប់ឥវ៉ាន់របស់អ្នកនឹងដឹកជញ្ជូនដល់នៅថ្ងៃស្អែក។ សូមទូរស័ព្ទមកលេខ 012345678 ប្រសិនបើមានចម្ងល់។",
    "Your PeerPower code is 482913. Never share this code with anyone, including our staff.",
    "Log in at https://www.ababank.com with your password to see your new statement.",
    "Your Smart 4G package expires today. Dial *888# to renew.",
    "Reminder: your appointment at Calmette Hospital is tomorrow at 9:00. Reply to this message to reschedule.",
]


@pytest.mark.parametrize("body", LEGITIMATE)
def test_legitimate_messages_are_allowed(body):
    decision = check_content(body)
    assert (decision.action, decision.score, decision.codes) == (ALLOW, 0, [])


def test_khmer_loan_offer_is_rejected():
    # "Need money urgently? Fast loan, no collateral, call 012345678."
    decision = check_content("ត្រូវការលុយបន្ទាន់? កម្ចីរហ័ស គ្មានទ្រព្យធានា ទូរស័ព្ទមក 012345678")
    assert decision.action == REJECT
    assert decision.codes == ["term_loan_shark", "term_urgency", "lure_contact"]
    assert decision.reasons[0].matches == ("កម្ចីរហ័ស", "គ្មានទ្រព្យធានា", "ត្រូវការលុយ")


def test_english_loan_offer_is_rejected():
    decision = check_content("Need cash? Instant loan approved in 10 minutes, no collateral. Call 012345678")
    assert decision.action == REJECT
    assert decision.reasons[0].matches == ("instant loan", "need cash", "no collateral")


def test_prize_with_shortened_link_is_held():
    # "Congratulations! Your number won a phone. Transfer 20$ delivery fee to receive the prize: bit.ly/…"
    # (Rejected before migration 0015 lightened the prize words, which brands' own draw results use too: 85 now.)
    decision = check_content(
        "អបអរសាទរ! លេខរបស់អ្នកបានឈ្នះរង្វាន់ទូរស័ព្ទ iPhone 15។ សូមផ្ទេរប្រាក់ 20$ ថ្លៃដឹកជញ្ជូនដើម្បីទទួលរង្វាន់៖ bit.ly/3xYzAbc"
    )
    assert (decision.action, decision.score) == (HOLD, 85)
    assert set(decision.codes) == {"term_scam", "link_shortener", "lure_contact"}


def test_khmer_gambling_is_rejected():
    # "Online casino, football betting, win millions! Register now www.win888.vip"
    decision = check_content("កាស៊ីណូអនឡាញ ភ្នាល់បាល់ទាត់ ឈ្នះលុយរាប់លាន! ចុះឈ្មោះឥឡូវនេះ www.win888.vip")
    assert decision.action == REJECT
    gambling = decision.reasons[decision.codes.index("term_gambling")]
    assert set(gambling.matches) == {"កាស៊ីណូ", "ភ្នាល់", "ឈ្នះលុយ"}


def test_gambling_hidden_with_zero_width_spaces_is_still_found():
    decision = check_content("កា\u200bស៊ី\u200bណូ ភ្នា\u200bល់ បាការ៉ា")
    assert decision.action == REJECT


def test_english_phishing_is_rejected():
    decision = check_content(
        "URGENT: Your ABA account has been suspended. Verify your PIN now at http://aba-verify.xyz/login"
    )
    assert decision.action == REJECT
    assert {"term_phishing", "lookalike_domain", "phishing_pattern"} <= set(decision.codes)


def test_khmer_phishing_with_link_is_rejected():
    # "Urgent! Your account has been frozen. Click the link and enter your PIN immediately: http://acleda-kh.top/a"
    decision = check_content("បន្ទាន់! គណនីរបស់អ្នកត្រូវបានបង្កក។ សូមចុចលើតំណ ហើយបញ្ចូលលេខសម្ងាត់ភ្លាមៗ៖ http://acleda-kh.top/a")
    assert decision.action == REJECT
    assert {"term_phishing", "lookalike_domain", "phishing_pattern"} <= set(decision.codes)


@pytest.mark.parametrize(
    "host",
    [
        "ab4bank.top",
        "aba-verify.xyz",
        "wing-pay.net",
        "secure.acledabank.com.kh.info",
        "bakong-verify.com",
        # A bait word glued after or before the brand, and a long brand inside a label.
        "abaverify.xyz",
        "secureaba.top",
        "myacledabankonline.com",
        # Brands of the wallets, banks, telecoms and utilities migration 0019 made official.
        "truemoney-fix.com",
        "paypal-dispute.vip",
        "mymetfonegift.top",
        "princebank-kh.online",
        "ppwsa-online.xyz",
        "pipay-verify.click",
    ],
)
def test_lookalike_bank_domains(host):
    assert "lookalike_domain" in check_content(f"Please check https://{host}/x").codes


@pytest.mark.parametrize(
    "host",
    [
        "ababank.com",
        "mobile.ababank.com",
        "my.mobile.ababank.com",
        "abacus-books.com",
        "wingsfood.com",
        "nbc.com",
        "truemoney.com.kh",
        "www.metfone.com.kh",
        "paypal.com",
        "princehotel.com",
        "pipayroll.com",
    ],
)
def test_official_and_unrelated_domains_are_not_lookalikes(host):
    assert "lookalike_domain" not in check_content(f"Please check https://{host}/x").codes


@pytest.mark.parametrize(
    "body",
    [
        "Install the new security app from https://files.example.net/secure.apk today",
        "Download https://dl.example.top/app/update.apk?v=2 now",
        # A bare file name, glued to Khmer: "install the new security app before tomorrow".
        "ABA: សូមតំឡើងកម្មវិធីសុវត្ថិភាពថ្មី shield-update.apkមុនថ្ងៃស្អែក។",
    ],
)
def test_a_link_to_an_android_package_is_held(body):
    decision = check_content(body)
    assert "app_download" in decision.codes
    assert decision.action != ALLOW


@pytest.mark.parametrize(
    "body",
    [
        "Get the ABA Mobile app for Huawei phones: https://www.ababank.com/downloads/aba-mobile.apk",
        "Our new app is on https://play.google.com/store/apps/details?id=com.example.app",
        "Download the APK from the Play Store, not from links in messages.",
    ],
)
def test_an_official_package_store_links_and_the_word_are_not_app_downloads(body):
    assert "app_download" not in check_content(body).codes


@pytest.mark.parametrize(
    "body",
    [
        "ACLEDA security team: we will call you in 5 minutes. Please read out the code you receive.",
        "Call 012 345 678 and tell the agent your PIN to unblock the card.",
        "Delivery driver here, share the 4-digit code from the SMS so I can hand over the parcel.",
        # "Our agent will call you; please tell him the code you receive."
        "ភ្នាក់ងាររបស់យើងនឹងទូរស័ព្ទទៅ សូមប្រាប់លេខកូដដែលអ្នកទទួលបាន។",
        # Khmer in Latin letters: "bank staff will call, please tell them the OTP".
        "Bank staff nung call bong, sum prab OTP del bong ban.",
        # "I'm Metfone staff, please send me the code you received, no problem." — "ot ey te" is no negation.
        "Knhom staff Metfone, sum phjer code dael bong ban tortuol mok knhom, ot ey te.",
        "Phjer mok knhom lek OTP dael bong ban.",
        # A PIN asked for beside a map word is still a PIN.
        "Share your PIN with our agent to confirm your location.",
    ],
)
def test_asking_for_someone_elses_code_is_held(body):
    decision = check_content(body)
    assert "code_request" in decision.codes
    assert decision.action != ALLOW


@pytest.mark.parametrize(
    "body",
    [
        "Your PeerPower code is 482913. Never share this code with anyone.",
        "Give this code 4821 to the courier when your parcel arrives.",
        "We will send you a verification code by SMS. Enter it in the app.",
        # "Do not tell anyone this code, not even bank staff."
        "កុំប្រាប់លេខកូដនេះទៅនរណាម្នាក់ សូម្បីតែបុគ្គលិកធនាគារ។",
        "If someone calls and asks you to read out a code, it is not us: hang up.",
        # "We will send the code to you; do not tell this code to anyone." / "ABA never asks for your PIN."
        "Yerng nung phjer code tov bong. Kom prab code nis tov nak na.",
        "ABA ot del sour PIN bong te. Sum prab code tam app ABA tae mouy.",
        # A map's pin: couriers asking where the house is.
        "Hello, delivery from Little Fashion. I'm near the market now, can you share a pin or tell me a landmark?",
        "Delivery here, on National Road 5 near Krakor market. Can you share a landmark or pin for your house?",
    ],
)
def test_a_code_given_or_a_warning_is_not_a_code_request(body):
    assert "code_request" not in check_content(body).codes


def test_ip_address_link():
    decision = check_content("Your parcel is held at customs. Pay the processing fee at http://103.21.44.9/pay")
    assert decision.action == REJECT
    assert decision.codes == ["term_scam", "ip_address_url", "lure_contact"]
    assert check_content("Router setup: open http://192.168.1.1/admin").codes == ["ip_address_url"]


def test_heavy_repetition():
    decision = check_content("WIN WIN WIN WIN big c4sino prizes!!!!!!!!!!")
    assert "repetition" in decision.codes
    assert "term_gambling" in decision.codes  # "c4sino" read as casino


def test_a_run_of_one_character_alone_is_repetition_spaces_not():
    assert check_content("See you soon!!!!!!!!!!").reasons[0].matches == ("!!!!!!!!!!",)
    assert check_content("See you" + " " * 10 + "soon").codes == []


def test_repetition_ignores_long_numbers():
    assert check_content("Your code is 000000, ref 11111111111").codes == []


def test_a_word_repeated_is_counted_only_when_it_makes_a_large_share():
    # Four times "sale" in 13 words (0.31) is repetition, in 14 words (0.29) it is not; numbers and one-letter
    # words repeated (here ten times) do not count towards it.
    body = "sale sale sale sale on shoes bags hats coats belts socks ties gloves"
    assert check_content(body).reasons[-1].matches == ("sale",)
    assert "repetition" not in check_content(body + " scarves").codes
    assert "repetition" not in check_content("sale 1 1 1 1 1 a a a a a sale sale shoes").codes


def test_english_terms_match_whole_words_and_plurals():
    # The term rules alone: the statistical model reads character grams inside words on purpose, and holds this
    # five-word greeting by its "sex" grams (RESULTS.md, sixteenth round); the rules must not.
    rules = ContentFilter(terms=starter_terms(), domains=starter_domains())
    assert rules.check("Greetings from Sussex and Essex", hold_score=50, reject_score=100).codes == []
    assert check_content("Best casinos in town").codes == ["term_gambling"]


def test_reasons_serialise_for_the_moderation_queue():
    decision = check_content("Claim your prize today!")
    assert decision.as_dict() == {
        "action": "hold",
        "score": 50,
        "reasons": [{"code": "term_scam", "weight": 50, "matches": ["claim your prize"]}],
    }


def test_thresholds_are_settings(settings):
    # The rules' thresholds; the statistical model, which holds this message on its own whatever the hold score
    # (it tops the score up to it), has its tests in test_filter_model.py.
    settings.CONTENT_FILTER_CLASSIFIER = False
    body = "Claim your prize today!"
    settings.CONTENT_FILTER_HOLD_SCORE = 60
    assert check_content(body).action == ALLOW
    settings.CONTENT_FILTER_REJECT_SCORE = 60
    assert check_content(body).action == ALLOW
    settings.CONTENT_FILTER_HOLD_SCORE = settings.CONTENT_FILTER_REJECT_SCORE = 50
    assert check_content(body).action == REJECT


@pytest.mark.parametrize(
    "body",
    [
        "Your account 1234-xxx-89 will be marked dormant on 15 Jan if there is no transaction.",
        "Top-up of $10 received for number 097xxxx312. New balance $12.45.",
        "Your monthly bill for 010 xxx 781 is $8.90, due on the 12th.",
        "We called 012 4xx xxx twice and got no answer.",
    ],
)
def test_masked_digits_of_a_number_are_not_the_adult_term(body):
    assert "term_adult" not in check_content(body).codes


@pytest.mark.parametrize("body", ["XXX videos uncensored, watch free tonight", "Hot xxx 18+ chat, join now"])
def test_the_adult_term_xxx_is_still_read(body):
    assert "term_adult" in check_content(body).codes
