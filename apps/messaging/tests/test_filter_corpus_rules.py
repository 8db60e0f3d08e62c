"""The rules added from the evaluation corpus, each with a message it must stop and one it must let through."""

import importlib

import pytest

from apps.messaging.choices import DomainRuleKind, FilterAction
from apps.messaging.filtering import check_content
from apps.messaging.filtering.engine import ContentFilter, DomainSpec
from apps.messaging.filtering.starter import starter_domains, starter_terms

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rules_alone(settings):
    # These tests are about the rules; the statistical model, which holds some of the same messages on its own,
    # has its tests in test_filter_model.py.
    settings.CONTENT_FILTER_CLASSIFIER = False


ALLOW, HOLD, REJECT = FilterAction.ALLOW, FilterAction.HOLD, FilterAction.REJECT


@pytest.mark.parametrize(
    "offer",
    [
        "Get a personal loan of up to $3,000 at low interest, approved the same day. Call 012 345 678",
        "You are pre-approved for a credit line of $2,000. Bad credit OK, apply now at https://loans-kh.top/a",
        # "We offer loans up to 5000$, low interest, no collateral needed. Contact 012345678"
        "ផ្ដល់ប្រាក់កម្ចីរហូតដល់ 5000$ ការប្រាក់ទាប មិនត្រូវការទ្រព្យធានា។ ទាក់ទង 012345678",
        # "Credit card approved at once, no salary needed: https://…"
        "កាតឥណទានអនុម័តភ្លាមៗ គ្មានប្រាក់ខែក៏បាន https://card-kh.top/apply",
        # A warning's offer words and hotline without the warning (test_scam_warnings_naming_the_offer_go_through).
        "Quick loans through Telegram, we lend to everyone. Message 023 999 989.",
        # A warning's words with a link to follow: an offer that borrows them.
        "Beware of fake lenders! We are real: quick loan approved today, apply at https://realloan-kh.top",
        # "Be careful, places are limited: we offer loans without collateral, apply at https://…"
        "ប្រយ័ត្នអស់កន្លែង! យើងផ្តល់កម្ចីគ្មានទ្រព្យធានា ដាក់ពាក្យ https://loan-kh.top/a",
        # An offer opened with an alarm word, no link: "alert" and "warning" head offers too, so they mark no warning.
        "ALERT: your quick loan of $2,000 is approved, no collateral. Call 012 345 678 today to receive it.",
        "Warning: last day for quick loans, no collateral needed! Message 096 555 0101.",
    ],
)
def test_unsolicited_loan_and_credit_offers_are_stopped(offer):
    decision = check_content(offer)
    assert decision.action in (HOLD, REJECT)
    assert "term_loan_shark" in decision.codes


@pytest.mark.parametrize(
    "reminder",
    [
        "AMK: your loan repayment of USD 120.50 is due on 05/01/2027. Please pay on time. Questions: 023 999 999",
        "Reminder: instalment 4/12 of your loan LN0042 (KHR 410,000) is due tomorrow. Pay via ABA PayWay.",
        "ABA Bank: your credit card payment of $85 is due on 12/01/2027. Minimum payment $10.",
        # "AMK: your loan instalment of 120 USD is due on 05/01/2027. Please pay on time. Call 023999999"
        "AMK៖ ការបង់រំលស់ប្រាក់កម្ចីរបស់អ្នកចំនួន 120 USD ដល់ថ្ងៃកំណត់នៅថ្ងៃទី 05/01/2027។ សូមបង់ទាន់ពេល។ ទូរស័ព្ទ 023999999",
        # "Your loan LN0042 is 5 days overdue. Please contact the nearest branch."
        "គណនីកម្ចីលេខ LN0042 របស់លោកអ្នកហួសកាលកំណត់បង់ ៥ ថ្ងៃ។ សូមទាក់ទងសាខាជិតបំផុត។",
    ],
)
def test_loan_repayment_reminders_go_through(reminder):
    assert check_content(reminder).action == ALLOW


# A lender's own product named the way an offer names it ("Quick Loan"), falling due, with no contact and no link of
# its own: its loan words weigh nothing (the model still reads it). The same product offered, or due with a number to
# call, still counts.
@pytest.mark.parametrize(
    "reminder",
    [
        # "ACLEDA: your Quick Loan due 14/12, amount USD 120.40. Pay via ACLEDA mobile → Loan Repayment."
        "ACLEDA: កម្ចី Quick Loan របស់អ្នក due 14/12, amount USD 120.40. Pay via ACLEDA mobile → Loan Repayment។",
        "Your Easy Loan instalment of $45 is overdue by 3 days. Please pay at any branch to avoid a late fee.",
        # "Your quick loan payment date has come: 250,000 riel. Please pay at the branch."
        "កម្ចីរហ័ស (Quick Loan) របស់អ្នកដល់ថ្ងៃបង់ ២៥០,០០០ រៀល។ សូមបង់នៅសាខា។",
    ],
)
def test_a_lenders_own_loan_falling_due_is_no_offer(reminder):
    assert "term_loan_shark" not in check_content(reminder).codes


@pytest.mark.parametrize(
    "offer",
    [
        # Repayment terms are part of an offer: only "due" marks a loan already taken.
        "Quick loan, no collateral, money in 1 hour. Daily repayment only $12, easy instalments.",
        "Quick loan due to high demand: apply today, no collateral needed.",
        "Your Quick Loan is due 14/12 - or get a new quick loan today, no collateral! Call 012 345 678",
    ],
)
def test_due_wording_does_not_discount_an_offer_or_a_contact(offer):
    decision = check_content(offer)
    assert "term_loan_shark" in decision.codes
    assert decision.action in (HOLD, REJECT)


def test_offer_words_with_a_contact_weigh_more_than_alone():
    body = "Invest now and earn a guaranteed profit"
    alone = check_content(body)
    assert (alone.action, alone.codes) == (HOLD, ["term_scam"])
    for contact in ("@richclub2026", "@7club_kh", "012 345 678", "+855 12 345 678", "https://rich-club.vip/join"):
        decision = check_content(f"{body}, join {contact}")
        assert decision.action == REJECT
        assert decision.codes[-1] == "lure_contact"


def test_a_contact_without_an_offer_adds_nothing():
    body = "Your parcel KH123456 arrives today. Driver: 012 345 678, track at https://shop.example.com/t/1"
    assert check_content(body).codes == []
    # Urgency and credential words are no offer: the phishing rule judges those.
    assert "lure_contact" not in check_content("Urgent: reset your password at https://shop.example.com").codes


def test_official_bank_links_and_email_addresses_are_no_lure():
    # With the bank's own page the offer's words weigh nothing either (a prize pointing to the brand's own page).
    assert check_content("Earn 5% cashback with your card, see https://www.ababank.com/cards").codes == []
    assert check_content("Earn 5% cashback with your card, questions to cards@ababank").codes == ["term_scam"]


def test_repetition_sign_does_not_hide_a_term():
    # "Special massage at home, young girls": ៗ after ក្មេង ("young ones") glued onto the word before.
    for body in ("សេវាម៉ាស្សាពិសេស ស្រីក្មេងៗ", "សេវាម៉ាស្សាពិសេស ស្រីក្មេង ៗ", "សេវាម៉ាស្សាពិសេស ស្រីក្មេង"):
        reason = check_content(body).reasons[0]
        assert reason.matches == ("ម៉ាស្សាពិសេស", "ស្រីក្មេង")
    # "Please come quickly" with ៗ is still ordinary text.
    assert check_content("សូមមកឱ្យបានឆាប់ៗ").codes == []


@pytest.mark.parametrize(
    ("spam", "legitimate"),
    [
        # Investment: "Invest 10$, 5% profit every day, guaranteed" / "Your ACLEDA fixed deposit matured"
        (
            "វិនិយោគតែ 10$ ទទួលបានប្រាក់ចំណេញ 5% ជារៀងរាល់ថ្ងៃ ធានា។ Telegram @vipmoney",
            "ប្រាក់បញ្ញើមានកាលកំណត់របស់អ្នកនៅ ACLEDA បានដល់កាលកំណត់ហើយ។",
        ),
        # Gambling: "Vietnamese lottery every day" / "vaccination appointment" (ចាក់ also means inject)
        ("ឆ្នោតយួនចេញរៀងរាល់ថ្ងៃ ទាក់ទង 012345678", "ការចាក់វ៉ាក់សាំងកូនរបស់អ្នកនៅថ្ងៃទី 12/01/2027 នៅមណ្ឌលសុខភាព។"),
        # Prize: "lucky draw, you won" / "thank you for your payment"
        ("កម្មវិធីចាប់រង្វាន់៖ អ្នកបានឈ្នះ 500$ ទាក់ទង 012345678", "សូមអរគុណសម្រាប់ការបង់ប្រាក់ទាន់ពេល។"),
        ("Lucky draw: your number has won 1,000 USD, call 012345678 to claim", "Smart: you received 5GB bonus data."),
        ("Hot webcam girls, private video chat tonight: https://x.example.top", "Dr. Sok: see you tonight at 19:00."),
    ],
)
def test_new_terms_stop_spam_and_spare_its_legitimate_neighbour(spam, legitimate):
    assert check_content(spam).action in (HOLD, REJECT)
    assert check_content(legitimate).action == ALLOW


@pytest.mark.parametrize("link", ["rb.gy/x7Yz2", "bl.ink/abc12", "qrco.de/bcXy"])
def test_starter_shorteners_without_a_scheme_are_links(link):
    assert check_content(f"Details: {link}").codes == ["link_shortener"]


def test_text_with_dots_but_no_link_has_no_link_reasons():
    # Prices, decimals and abbreviations pass the cheap pre-scan or fail it; either way no link is read.
    assert check_content("Dr. Sok: 1.5 kg of Kampot pepper costs 12.50 USD. See you at 9.30.").codes == []


# Migration 0015: the words a brand announces its own draw with weigh less, so they need a call to action to hold.
@pytest.mark.parametrize(
    "announcement",
    [
        "Chip Mong Mall lucky draw winners have been announced on our Facebook page. Thank you to all participants!",
        "Wing: beware of messages saying you won a prize and asking for a code. Wing never asks for your PIN.",
        # "Aeon Mall: the winner of the car in the anniversary lucky draw is receipt no. 10992. Please contact the
        # customer service counter."
        "Aeon Mall៖ អ្នកឈ្នះរថយន្តក្នុងការចាប់ឆ្នោតខួប គឺវិក្កយបត្រលេខ ១០៩៩២។ សូមទាក់ទងបញ្ជរសេវាអតិថិជន។",
        # "Wing: the winners of the weekly prize-money draw received it automatically. No call, link or code is
        # needed to receive a Wing prize."
        "Wing៖ អ្នកឈ្នះការចាប់ឆ្នោតសប្ដាហ៍ប្រាក់រង្វាន់ បានទទួលប្រាក់ដោយស្វ័យប្រវត្តិ។ មិនត្រូវការការហៅ តំណ ឬលេខកូដដើម្បីទទួលរង្វាន់ Wing ទេ។",
        # "AMK never phones to offer a loan you did not ask for. Apply only at a branch or in the AMK app."
        "AMK មិនដែលទូរស័ព្ទផ្ដល់កម្ចីដែលអ្នកមិនបានស្នើទេ។ សូមដាក់ពាក្យតែនៅសាខា ឬក្នុងកម្មវិធី AMK ប៉ុណ្ណោះ។",
    ],
)
def test_draw_results_and_scam_warnings_go_through(announcement):
    assert check_content(announcement).action == ALLOW


# A brand's draw result sends the winner in person with an identity card and gives no contact: its prize words weigh
# nothing (the model still reads it). The same words with a contact, or a loan "with just your ID card", still count.
@pytest.mark.parametrize(
    "result",
    [
        "Metfone Lucky Draw results: Congratulations! Your number won a Honda Dream in the November draw. Visit any "
        "Metfone shop with your ID card before 15 January to claim. No fee is charged.",
        # "Congratulations! Your number won an iPhone in the Metfone draw. Please come to collect it at our head
        # office with your ID card."
        "សូមអបអរសាទរ! លេខទូរស័ព្ទរបស់អ្នកបានឈ្នះរង្វាន់ iPhone ក្នុងកម្មវិធីចាប់ឆ្នោត Metfone។ "
        "សូមអញ្ជើញមកទទួលរង្វាន់នៅការិយាល័យកណ្តាល ជាមួយអត្តសញ្ញាណប័ណ្ណ។",
    ],
)
def test_a_prize_claimed_in_person_with_an_identity_card_is_no_offer(result):
    decision = check_content(result)
    assert "term_scam" not in decision.codes
    # Without the card (and without "No fee is charged", which discounts on its own: the test below).
    without_card = check_content(
        result.replace("ID card", "code").replace("ជាមួយអត្តសញ្ញាណប័ណ្ណ", "").replace(" No fee is charged.", "")
    )
    assert "term_scam" in without_card.codes


def test_an_identity_card_does_not_discount_a_contact_or_a_loan():
    prize = check_content("Congratulations, you won 1,000 USD in our lucky draw! Bring your ID card, call 012 345 678")
    assert {"term_scam", "lure_contact"} <= set(prize.codes)
    loan = check_content("Fast loan no collateral, with just your ID card. Money in 30 minutes.")
    assert "term_loan_shark" in loan.codes


# A brand's draw result that says the winner pays nothing, with no link of its own to follow: its prize words and its
# staff's number weigh nothing (the model still reads it). "Pay nothing" beside an outside link still counts.
@pytest.mark.parametrize(
    "result",
    [
        "Smart Lucky Draw: your number won a Honda Scoopy! Our staff will call you from 010 888 888 to arrange the "
        "handover. You do not need to pay anything.",
        # "Congratulations! Your number won 5 dollars in the weekly draw. It goes into your account. No need to pay."
        "សូមអបអរសាទរ! លេខរបស់អ្នកបានឈ្នះរង្វាន់ ៥ ដុល្លារ ក្នុងការចាប់រង្វាន់ប្រចាំសប្តាហ៍។ "
        "ប្រាក់នឹងបញ្ចូលគណនីដោយស្វ័យប្រវត្តិ។ មិនចាំបាច់បង់ប្រាក់អ្វីឡើយ។",
        # Latin-script Khmer: "you won an iPhone, staff will call from 010 888 888, you don't have to pay any money".
        "Lucky draw: bong chneah iPhone 16! Staff nung call pi lek 010 888 888. Min trov bong luy avey te.",
        "Congratulations to our subscribers who won the Smart Lucky Draw! Prizes are collected only at Smart shops "
        "with your ID.",
        "Smart Lucky Spin winner: your number won a Honda Dream! No fee is charged. Our staff call only from "
        "023 999 989.",
        # "Wing: congratulations! You are the winner of a Honda Dream motorbike … no fee payment at all."
        "Wing៖ សូមអបអរសាទរ! អ្នកគឺជាអ្នកឈ្នះរង្វាន់ម៉ូតូ Honda Dream។ បុគ្គលិក Wing នឹងទាក់ទងតាមលេខ 023 999 989 ប៉ុណ្ណោះ។ "
        "គ្មានការបង់ថ្លៃអ្វីទេ។",
    ],
)
def test_a_prize_that_costs_the_winner_nothing_is_no_offer(result):
    decision = check_content(result)
    assert "term_scam" not in decision.codes
    assert "lure_contact" not in decision.codes


def test_pay_nothing_does_not_discount_an_outside_link_or_a_fee():
    linked = check_content("You won a Honda Scoopy! No need to pay anything, claim at smart-gift-kh.top/claim now")
    assert "term_scam" in linked.codes
    assert linked.action != ALLOW
    asked = check_content("Lucky draw winner! Call 012 345 678 to claim your prize of 500 USD, pay the fee first.")
    assert {"term_scam", "lure_contact"} <= set(asked.codes)
    # "No fee to start" is an offer's pitch, not a winner told he pays nothing.
    pitch = check_content("Work from home, easy money $50 a day. No fee to start, WhatsApp 096 220 1487.")
    assert {"term_scam", "lure_contact"} <= set(pitch.codes)


def test_an_offer_saying_it_is_no_scam_is_no_warning():
    # "Cockfighting live every day, bet by phone, no scam. Deposit 10 dollars, get 10 more. Contact 089 441 276."
    offer = check_content(
        "ជល់មាន់ផ្សាយផ្ទាល់រាល់ថ្ងៃ។ ភ្នាល់តាមទូរស័ព្ទបាន គ្មានការបោកប្រាស់។ ដាក់ប្រាក់ ១០ដុល្លារ ជូនបន្ថែម ១០ដុល្លារ។ ទាក់ទង 089 441 276"
    )
    assert "lure_contact" in offer.codes
    assert offer.action != ALLOW


# A brand's draw result whose every link is its own page (an official domain or a registered .kh name): its prize
# words weigh nothing (its hotline still counts as a contact). A page of the sender's own beside it, or another offer,
# still counts.
@pytest.mark.parametrize(
    "result",
    [
        "Angkor Beer Lucky Can: congratulations, your code AB-5521 won a motorbike! Claim your prize at our Phnom "
        "Penh office, hotline 023 881 200. Winners: angkorbeer.com.kh/winners",
        # "Congratulations! Your bottle cap won a bicycle. Winners at mekongwater.com.kh"
        "សូមអបអរសាទរ! គម្របដបរបស់អ្នកឈ្នះកង់ ១ គ្រឿង។ បញ្ជីអ្នកឈ្នះនៅ mekongwater.com.kh",
    ],
)
def test_a_prize_pointing_to_the_brand_s_own_page_is_no_offer(result):
    decision = check_content(result)
    assert "term_scam" not in decision.codes
    assert decision.action == ALLOW


def test_an_own_page_does_not_discount_a_page_of_the_sender_s_or_another_offer():
    beside = check_content(
        "Claim your prize: you won a motorbike! Winners: angkorbeer.com.kh, claim at angkor-beer-win.top now"
    )
    assert "term_scam" in beside.codes
    assert beside.action != ALLOW
    loan = check_content("You won a prize and a fast loan with no collateral! Call 012 345 678, see myshop.com.kh")
    assert {"term_scam", "lure_contact"} <= set(loan.codes)


@pytest.mark.parametrize(
    "lure",
    [
        "Lucky draw: your number has won 1,000 USD, call 012345678",
        "You won a prize in our raffle! Call 012 345 678",
        # "Lucky draw: you won 500$, contact 012345678"
        "កម្មវិធីចាប់រង្វាន់៖ អ្នកបានឈ្នះ 500$ ទាក់ទង 012345678",
        # "Lucky draw winner: prize money 2 million riel, chat on Telegram @gift_kh88"
        "អ្នកឈ្នះការចាប់ឆ្នោត ប្រាក់រង្វាន់ ២ លានរៀល ឆាតមក Telegram @gift_kh88",
        # "We offer loans, apply today, call 012345678"
        "យើងផ្តល់កម្ចី ដាក់ពាក្យថ្ងៃនេះ ទូរស័ព្ទ 012345678",
    ],
)
def test_the_same_words_with_a_call_to_action_are_held(lure):
    decision = check_content(lure)
    assert decision.action in (HOLD, REJECT)
    assert "lure_contact" in decision.codes


def test_a_registered_cambodian_domain_is_no_lure():
    # "Metfone: the 'top up, win a motorbike' prize draw has ended. The winners are listed at metfone.com.kh."
    body = 'Metfone៖ កម្មវិធីចាប់រង្វាន់ "បញ្ចូលលុយ ឈ្នះម៉ូតូ" បានបញ្ចប់។ បញ្ជីអ្នកឈ្នះមាននៅ {}។'
    for host in ("metfone.com.kh", "www.mptc.gov.kh/results", "ngo.org.kh"):
        decision = check_content(body.format(host))
        assert (decision.action, decision.codes) == (ALLOW, [])  # the brand's own page: no prize offer either
    for host in ("luckydraw-kh.top", "luckydraw.kh", "com.kh.example.xyz"):
        decision = check_content(body.format(host))
        assert (decision.action, decision.codes) == (HOLD, ["term_scam", "lure_contact"])
    # The brand's name outside its registered domain is a look-alike as well (migration 0019 made it official).
    for host in ("metfone-kh.top", "metfone.kh"):
        decision = check_content(body.format(host))
        assert (decision.action, decision.codes) == (REJECT, ["term_scam", "lookalike_domain", "lure_contact"])
    # A phone number beside a registered domain's link is still a contact.
    decision = check_content(body.format("metfone.com.kh") + " ទាក់ទង 012 345 678")
    assert decision.codes == ["lure_contact"]
    assert decision.reasons[-1].matches == ("012 345 678",)


def test_lighter_weights_leave_a_term_staff_changed_alone():
    from django.apps import apps

    from apps.messaging.models import FilterTerm

    lighter = importlib.import_module("apps.messaging.migrations.0015_lighter_draw_result_terms")
    assert FilterTerm.objects.get(term="lucky draw", language="en").weight == 15
    FilterTerm.objects.filter(term="lucky draw", language="en").update(weight=45)  # a staff member's choice
    lighter.restore(apps, None)
    assert FilterTerm.objects.get(term="lucky draw", language="en").weight == 45
    assert FilterTerm.objects.get(term="ចាប់ឆ្នោត", language="km").weight == 30
    lighter.lighten(apps, None)
    assert FilterTerm.objects.get(term="lucky draw", language="en").weight == 45
    assert FilterTerm.objects.get(term="ចាប់ឆ្នោត", language="km").weight == 10


# Migration 0016: "slot" is a booking's word too; with a phone number alone it no longer holds a message, and slot
# games, which carry other gambling words or a link, are still stopped.
@pytest.mark.parametrize(
    "booking",
    [
        "Mazda Cambodia: your CX-5 is due for its 20,000 km check. Book a slot at the Sen Sok workshop or call "
        "023 881 402.",
        "Dental clinic: a slot is free on Monday at 9:00 for your filling. Call 012 774 310 to confirm.",
    ],
)
def test_a_booked_slot_with_a_number_goes_through(booking):
    assert check_content(booking).action == ALLOW


@pytest.mark.parametrize(
    "game",
    [
        "New slot game, free spins x50 for new members! Claim now: slotkh-win.top",
        "Slot machine online, jackpot every hour, call 012 345 678 to open an account",
    ],
)
def test_slot_games_are_still_stopped(game):
    assert check_content(game).action in (HOLD, REJECT)


def test_the_lighter_slot_weight_leaves_a_term_staff_changed_alone():
    from django.apps import apps

    from apps.messaging.models import FilterTerm

    lighter = importlib.import_module("apps.messaging.migrations.0016_lighter_slot_term")
    assert FilterTerm.objects.get(term="slot", language="en").weight == 15
    lighter.restore(apps, None)
    assert FilterTerm.objects.get(term="slot", language="en").weight == 30
    FilterTerm.objects.filter(term="slot", language="en").update(weight=35)  # a staff member's choice
    lighter.lighten(apps, None)
    assert FilterTerm.objects.get(term="slot", language="en").weight == 35


# Fifth round: a bank's, wallet's or regulator's warning about loan and prize scams names the offer and gives a
# hotline; without a link of its own it is a warning, and its offer terms and contact weigh nothing.
@pytest.mark.parametrize(
    "warning",
    [
        "Wing: Be careful of SMS offering quick loans in Wing's name. Wing does not lend through Telegram or "
        "Facebook. Report suspicious messages to 023 999 989.",
        "National Bank of Cambodia: only licensed institutions may offer loans. Check the list of licensed lenders "
        "before you borrow.",
        # "National Bank of Cambodia warns: no lawful bank lends through an unknown Telegram account. Report to
        # 023 722 563."
        "ធនាគារជាតិនៃកម្ពុជាព្រមាន៖ គ្មានធនាគារស្របច្បាប់ណាផ្តល់កម្ចីតាមគណនី Telegram មិនស្គាល់ទេ។ រាយការណ៍មក ០២៣ ៧២២ ៥៦៣។",
        # "Wing: many fake 'Wing loan' messages this week. Wing does not lend by SMS."
        "វីង៖ សប្តាហ៍នេះមានសារក្លែង «កម្ចីវីង» ច្រើន។ វីងមិនផ្តល់កម្ចីតាមសារទេ។",
        # The same in Latin-script Khmer: "ABA, beware: fake SMS offering fast loans. ABA never asks for money first."
        "ABA proyat: SMS kleng klay offer fast loan no collateral. ABA ot del sour luy mun. Hotline 023 225 333",
    ],
)
def test_scam_warnings_naming_the_offer_go_through(warning):
    decision = check_content(warning)
    assert decision.action == ALLOW
    assert all(reason.weight > 0 for reason in decision.reasons)  # the discounted reasons are not reported


# A warning that quotes or disowns the scam's own link is not sending its reader there: the link rules do not weigh
# a link inside a quotation, or any link the warning disowns ("that site is not ours", "a fake text").
@pytest.mark.parametrize(
    "warning",
    [
        "ABA WARNING: Scammers are sending SMS like 'Your account is suspended, verify at aba-secure-kh.com'. ABA "
        "never sends links asking for your password. Report to 023 225 333.",
        'Seen a text saying "account suspended, verify at aba-kh-secure.com"? Delete it - that site is fake.',
        # "ACLEDA: beware of the message «your card is blocked, unlock it at acleda-unlock.com». Not our site."
        "ធនាគារអេស៊ីលីដា៖ សូមប្រុងប្រយ័ត្នសារ «កាតរបស់អ្នកត្រូវបានបិទ សូមចូល acleda-unlock.com»។ នេះមិនមែនជាគេហទំព័ររបស់យើងទេ។",
        # Not quoted, but disowned: "a fake text", "not ours", "we never send links".
        "ABA heads-up: a fake text going round sends you to aba-secure-kh.com. That site is not ours and we never "
        "send login links.",
        "Amret: beware, there is a fake site called amret-loan-online.com asking for your ID photo and a fee.",
        # Latin-script Khmer: "careful! someone impersonating Wing sends the link …; we never send links".
        "Wing: brong brong! Mean neak klaeng kluon chea Wing pnhae link wing-kh-bonus.online. Yerng min del pnhae "
        "link oy chol account te.",
        # "Careful" and "scam" warn; "never sends short links" disowns.
        "Wing: Careful! Scam SMS 'Wing gift $20, claim at bit.ly/wing-gift' are going round. Wing never sends short "
        "links.",
        # Latin-script Khmer: "don't believe SMS saying '…, click link wing-update.xyz'. That is a scam ("bok bras")."
        "Wing: Kom chhuen SMS del thaa 'Wing account bong trov bet, chol link wing-update.xyz'. Nih jea bok bras. "
        "Wing min del som PIN te.",
        # "ABA: SMS saying '… click aba-verify.top' is a scam ("បោកប្រាស់")."
        "ABA៖ សារដែលថា 'គណនីរបស់អ្នកត្រូវបានបិទ សូមចុច aba-verify.top' គឺជាការបោកប្រាស់។",
    ],
)
def test_a_warning_naming_the_scam_s_link_goes_through(warning):
    decision = check_content(warning)
    assert not {"lookalike_domain", "phishing_pattern"} & set(decision.codes)
    assert decision.action == ALLOW


@pytest.mark.parametrize(
    "message",
    [
        # The same link not quoted: the message sends its reader there, warning words or not.
        "ABA WARNING: Scammers are active. Your account is suspended, verify at aba-secure-kh.com now.",
        # Quoted, but no warning: a quotation is no excuse.
        "ABA: 'Your account is suspended, verify at aba-secure-kh.com' today or lose access.",
        # A warning quoting one link and sending its reader to another of its own.
        "Beware of 'aba-secure-kh.com'! Verify your account safely at aba-kh-verify.com instead.",
        # Disowning words without a warning: "don't click later" is no warning.
        "Don't click later, click now: verify your account at aba-secure-kh.com today.",
    ],
)
def test_a_link_a_warning_neither_quotes_nor_disowns_still_counts(message):
    decision = check_content(message)
    assert "lookalike_domain" in decision.codes
    assert decision.action != ALLOW


def test_a_domain_staff_blocked_counts_even_when_a_warning_names_it():
    blocked = DomainSpec(domain="aba-secure-kh.com", kind=DomainRuleKind.BLOCKED, weight=100)
    content_filter = ContentFilter(terms=starter_terms(), domains=[*starter_domains(), blocked])
    warning = "ABA heads-up: a fake text sends you to aba-secure-kh.com. That site is not ours."
    decision = content_filter.check(warning, hold_score=50, reject_score=100)
    assert decision.codes == ["blocked_domain"]
    assert decision.action == REJECT
