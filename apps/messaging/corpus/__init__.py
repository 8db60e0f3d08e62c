"""The labelled evaluation corpus of the content filter and how a filter is scored on it.

`messages.jsonl` (written by `build.py` from `templates.txt`): one message a line with `text`, `label`
(spam | legit), `category`, `language` (km | en | mixed) and `split`:

* ``train``: the wording the filter's corpus terms were chosen on;
* ``test``: every third template of the same sections, held out, then looked at once to widen the terms;
* ``fresh``: templates written after that, scored, then looked at once more;
* ``unseen``: templates written after that, scored, then looked at once more;
* ``holdout``: templates written after the last change to the rules and never used to choose one: the honest
  measure of how the rules fare on new wording.

`blind.jsonl` holds the ``blind`` split: 161 messages written one by one (no template, no fills) after the first
statistical model was designed and before any filter was scored on them; it measured that model, and has been
fitted on since.

`written.jsonl` holds the ``written`` split: 1,505 messages written one by one as training data (789 legitimate:
bank and wallet alerts, codes of many shapes, couriers and customs, clinics, telcos' notices and terms updates,
utility bills, schools, government notices, shops, ride-hailing, microfinance reminders with hotlines, approvals of
loans customers applied for, brands' own marketing; 716 spam of the six categories), in Khmer, English and mixed.

`sealed.jsonl` holds the ``sealed`` split: 405 messages (213 legitimate, 192 spam, every category and language)
written one by one with wording of their own, and committed before the written split and before any change to the
filter was scored on them. It was scored once, for that round's figures on new wording, and is fitted on since.

`written2.jsonl` holds the ``written2`` split: 749 more training messages written one by one, weighted to the
categories the sealed split showed weakest (loans worded like a lender's notice, call-backs and "give us the code"
without a link, adult) and to their legitimate look-alikes (lenders' notices of loans applied for, banks' security
alerts, brands' lucky-draw results, job interviews, pharmacies and clinics).

`sealed2.jsonl` holds the ``sealed2`` split: 404 messages (213 legitimate, 191 spam, every category and language,
with the same hard shapes and look-alikes), written and committed before written2 and before any filter was scored
on them. It was scored once, for that round's figures, and is fitted on since.

`sealed3.jsonl` holds the ``sealed3`` split: 411 messages (215 legitimate, 196 spam, every category and language:
brands' lucky-draw results and scam warnings, lenders' approvals and disbursements, clinics, couriers with duties
to pay, among the legitimate; prizes with a fee to pay, "read me the code" calls, fake courts, tax offices and power
cuts, loans by phone, companions and pills among the spam), written and committed before written3 and before any
filter was scored on it; no message of it is closer than 0.4 (character 5-gram Jaccard) to any other corpus
message. It was scored once, for that round's figures, and is fitted on since.

`written3.jsonl` holds the ``written3`` split: 225 more training messages written one by one after sealed3 was
committed, weighted to the shapes cross-validation missed most (prizes and loans asking for a fee first, "staff
will call, read them the code", .apk links, fake court summons, loans by phone, pills and companions) and to their
legitimate look-alikes (banks' and wallets' warnings, lenders' notices with fees in the contract, couriers collecting
duty, a men's health clinic); none closer than 0.4 to a sealed3 message. Many come as a Khmer, an English and a
mixed version of one text.

`sealed4.jsonl` holds the ``sealed4`` split: 414 messages (214 legitimate, 200 spam, every category and language:
banks', wallets', the police's and the NBC's scam warnings, lenders' approvals, top-ups and repayment reminders, brands'
draw results and winners' handovers among the legitimate; "new number, send money, don't tell Dad" requests,
fixed-match tips, debt buy-outs, savings circles, pills, creams and escorts with no link or number among the spam),
written and committed before written4, before any change to the filter and before any filter was run on it; no
message of it is closer than 0.4 (character 5-gram Jaccard) to any other corpus message. It was scored once in its
round and is fitted on since.

`written4.jsonl` holds the ``written4`` split: 114 more training messages (75 spam, 39 legitimate) written after
sealed4 was committed, weighted to what cross-validation missed (couriers and relatives asking for the code or for
money, court and customs calls, .apk installs, loans against cars, salaries and land titles, debt transfers, gold
clubs, paid reviews, pills and escorts) and their look-alikes (warnings that name codes, apps and Telegram loans,
approved top-ups and credit cards, couriers asking for a landmark, a men's health clinic); none closer than 0.2 to a
sealed4 message.

`sealed5.jsonl` holds the ``sealed5`` split: 418 messages (200 spam, 218 legitimate, every category and language;
Latin-script Khmer, "khmer-glish", counted as mixed), written to differ in wording from every other split (new
brands and scam scripts: a mistaken transfer to send back, a boss buying gift cards, an anti-money-laundering
"safe account", a Marketplace buyer's code, task jobs, durian and condo shares, casino bonuses, cockfights, debt
buy-outs, salary-card and migrants' loans, sextortion, KTV) and committed before any filter ran on it; its
legitimate messages carry the look-alikes (23 loan repayment reminders, banks', wallets', the NBC's, the police's
and lenders' scam warnings, lenders' real approvals, brands' draw results). No message is closer than 0.39
(character 5-gram Jaccard) to one of the other splits. It was scored once in its round and is fitted on since.

`written6.jsonl` holds the ``written6`` split: 161 training messages (81 spam, 80 legitimate, every category)
written after sealed6 was committed, all in Khmer written in Latin script ("khmer-glish": "bong", "luy", "kchey",
"phnhae", "tngai"), which the earlier training splits barely had: loans, prizes, "read me the code" and
relatives' money requests, casinos and tips, task jobs and shares, escorts and pills, beside loan repayment
reminders, codes, couriers, bills and banks', wallets', the NBC's and the police's scam warnings.

`written7.jsonl` holds the ``written7`` split: 171 training messages (98 spam, 73 legitimate) written after sealed7
was committed and without reading it, mostly Latin-script Khmer with other spellings than written6's ("kchei",
"khchei", "tgnai", "prayat", "bng"), some Khmer with zero-width spaces and English: phishing (card and account
locks, a boss's gift cards, a Marketplace buyer's code, customs and tax links, "safe accounts"), loans by Telegram,
debt buy-outs and fees first, task jobs, USDT and durian shares, overseas jobs, escorts, pills and paid video calls;
beside loan repayment reminders and pawn renewals, banks', wallets', telcos', the NBC's and the police's scam
warnings, opted-in shops' offers with STOP, lenders' real approvals, codes, couriers, clinics and bills.

`sealed6.jsonl` holds the ``sealed6`` split: 422 messages (200 spam, 222 legitimate, every category and language;
about two thirds of the mixed ones in Latin-script Khmer), committed before written6, before any change to the
filter and before any filter ran on it; no message is closer than 0.40 (character 5-gram Jaccard) to one of the
other splits. It was scored once in its round and is fitted on since.

`sealed7.jsonl` holds the ``sealed7`` split: 422 messages (200 spam, 222 legitimate, every category and language;
103 of the 142 mixed ones in Latin-script Khmer, 13 Khmer ones with zero-width spaces) written by a writer who had
not read the filter, its rules, its model, its training data nor any other split's messages, and committed before
any filter ran on it; no message is closer than 0.40 (character 5-gram Jaccard) to one of the other splits. Its
legitimate messages carry the look-alikes (20 loan repayment reminders and 2 pawn renewals, banks', wallets', the
NBC's and telcos' scam warnings, lenders' real approvals and disbursements, brands' draw results, opted-in shops'
offers, a men's health clinic, a spa). It was scored once in its round (`benchmarks/RESULTS.md`) and is fitted on
since.

`written8.jsonl` holds the ``written8`` split: 297 training messages (159 spam, 138 legitimate; 97 Khmer, 90
English, 110 mixed, most of those Latin-script Khmer in yet other spellings: "kchei", "khchey", "tnam", "bpros")
written one by one after sealed7 was scored and without reading any later split, aimed at spam with no link and no
handle: pills, creams, oil massages and escorts; gold and forex clubs ("deposit $500, receive $750") and task jobs;
ministries', tax offices' and the traffic police's ".apk" updates; couriers, "bank staff" and a mistaken sender asking
for a code by phone; relatives in trouble; daily-repayment, salary-card and Telegram loans. Its legitimate messages
are their look-alikes: clinics (a men's health clinic, a urologist), pharmacies, spas, gold shops' prices, ministries'
real notices, couriers asking for a landmark, loan repayment reminders and pawn renewals, lenders' approvals and
disbursements, and banks', wallets', telcos', the NBC's, ministries' and the police's scam warnings.

A split named in `UNSEEN_SPLITS` is never fitted nor chosen on: it is written one by one, committed before any filter
runs on it, and scored once for the figures on new wording; after its round it moves to the fitted splits. Adding a
split's name there (with its file in `load` and its name in `SPLITS`) is all it takes. How the model uses the splits:
`training.py`.

`sealed8.jsonl` holds the ``sealed8`` split: 422 messages (200 spam, 222 legitimate, every category and language;
95 of the 140 mixed ones in Latin-script Khmer, 35 Khmer ones with zero-width spaces) written one by one by a writer
who had not read the filter, its rules, its model, its training data nor any other split's messages, and committed
before any filter ran on it; no message is closer than 0.37 (character 5-gram Jaccard; the closest is 0.36) to one of
the other splits, nor 0.3 to another of its own. Its spam includes the kinds without a link or a number (a nephew
held by the police, an OTP "to cancel a loan" read to a caller, a boss's new number, pills, gels and escorts), .apk
installs, SIM re-registration, fake NSSF refunds and scholarships, "safe accounts", task jobs, USDT, cattle and
bird's-nest shares, esports, boat-race and cockfight bets, debt clearing and loans against phones, land titles and
Facebook contacts. Its legitimate messages carry the look-alikes (20 loan repayment reminders and 3 pawn renewals,
banks', wallets', telcos', the NBC's and the police's scam warnings, lenders' real approvals and disbursements,
brands' draw results, opted-in shops' offers with STOP, clinics, pharmacies, spas, gold shops, government
notices). Main's filter before the eighth round and the eighth round's were each scored on it once
(`benchmarks/RESULTS.md`); it is fitted on since the ninth round.

`written9.jsonl` holds the ``written9`` split: 281 training messages (156 spam, 125 legitimate; 84 Khmer, 108
English, 89 mixed, most of those Latin-script Khmer in spellings of their own: "kchei"/"khchey"/"kjei", "tngai"/
"tgnai", "phnher"/"phnhae", "bang"/"bong") written one by one after sealed8 was scored, aimed at the kinds of spam
the filter generalised worst on (none closer than 0.35, character 5-gram Jaccard, to a sealed8 message): phishing
with no link (callers posing as card teams, anti-fraud and customs officers, a court clerk, an electricity
technician, a director's assistant wanting top-up cards, a child with a broken phone, a mistaken transfer to send
to "another account"), prizes lost to "the next name" unless answered, points that lapse, grants and cashback held
for a fee or a code, loans released after an instalment or a deposit paid first, against a motorbike card or a
migrant's wages, debt take-overs, funds and shares worded like ordinary business (rice export, durian, chicken and
cattle farms, a hotel, a trader's signals, rated hotels), inside tips on cockfights and boat races, companions,
karaoke hostesses and tightening herbs. Its legitimate messages are their look-alikes: service and clinic
bookings that offer a "slot", brands' draw winners and points that say no fee is asked, banks', wallets', the
NBC's and the police's warnings about code callers, fake courts, "safe accounts" and instant loans, account
upgrades and deposits maturing, loan approvals, repayment reminders, pawn renewals and a family's tontine turn,
yearly borey and condo fees, couriers with duty at the counter, and codes that say never to read them out.

`sealed9.jsonl` holds the ``sealed9`` split: 422 messages (200 spam, 222 legitimate, every category and language;
126 of the 140 mixed ones in Latin-script Khmer, 34 Khmer ones with zero-width spaces) written one by one by a writer
who had not read the filter, its rules, its model, its training data nor any other split's messages, and committed
before any filter ran on it; no message is closer than 0.35 (character 5-gram Jaccard; the closest is 0.33) to one of
the other splits, nor 0.3 to another of its own (the closest is 0.23). Its spam includes the kinds without a link or
a number (a nephew held by the police, a mother's child on a "new number", a code "sent by mistake" or read to "bank
staff" to cancel a loan, a boss's new number asking for phone cards, an uncle's prize tax, blue pills and love
potions by voice), .apk installs, SIM re-registration, fake tax, NSSF and ride refunds, traffic fines, a "safe
account" of an anti-money-laundering unit, jobs in Korea, task jobs, USDT staking and new coins, durian, mango,
cattle and bird's-nest shares, land near the new airport, football tips and fixed matches, Kun Khmer, cockfight,
boat-race, esports, dice and Vietnamese-lottery bets, debt clearing and CBC blacklist removal, loans against phones,
land titles and by Telegram or Facebook, and sextortion. Its legitimate messages carry the look-alikes (21 loan
repayment reminders and 3 pawn renewals, banks', wallets', telcos', the NBC's and the police's scam warnings,
lenders' real approvals and disbursements, brands' draw results, opted-in shops' offers with STOP, clinics, a
urologist, pharmacies, spas, gold shops, government notices, OTP codes in many forms). Main's filter before the
ninth round and the ninth round's were each scored on it once (`benchmarks/RESULTS.md`); it is fitted on since the
tenth round.

`written10.jsonl` holds the ``written10`` split: 537 training messages (323 spam, 214 legitimate; 196 Khmer, 126
English, 215 mixed, most of those Latin-script Khmer in spellings of their own; 59 Khmer ones with zero-width
spaces) written one by one after sealed9 was scored, by two writers who each listed scam scripts the corpus did not
have before writing two or three messages per script: radio call-in, scratch-card, beer-cap, pagoda-raffle and borey
draws with a fee; NSSF, IDPoor, pension, subsidy, SIM and ID-card re-registration; water and power cut by a
"technician", a shop patent, a passport fast-track, an embassy's visa stamp, a credit officer's own wallet number, a
repossessed motorbike; a son at a police post, a relative in hospital, a colleague's funeral collection, a landlord
away, a temple roof; debt consolidation, "government" and NGO loans, CBC-blacklist and land-title loans; pepper,
cashew, swiftlet, fish-pond and cattle shares, mining rigs, arbitrage bots, review and order-boosting tasks, "wrong
number" openers; Kun Khmer, boat-race and cockfight bets, lottery-number sellers, casino agents, crash predictors;
massage "extras", potency oils and teas, paid video calls, "sisters" and hostesses. Its legitimate messages are their
look-alikes: wallets', telcos', insurers', the NBC's and the police's warnings describing those scripts, subsidy,
NSSF and IDPoor notices, insurance claims paid, interview invitations saying no fee is asked, points statements,
temple receipts, cooperatives' and savings groups' notices, repayment reminders, pawn renewals and disbursements.

`sealed10.jsonl` holds the ``sealed10`` split: 422 messages (200 spam, 222 legitimate, every category and language;
124 of the 138 mixed ones in Latin-script Khmer, 32 Khmer ones with zero-width spaces) written one by one by a
writer who had not read the filter, its rules, its model, its training data nor any other split's messages, and
committed before any filter ran on it; no message is closer than 0.40 (character 5-gram Jaccard, digits read as 0;
the closest is 0.39) to one of the other splits, nor 0.3 to another of its own (0.21). Its spam includes prizes
asking for a fee, bank details, a code read back or an app install, live-sale "winners" and mall vouchers; banks',
wallets', telcos', couriers', the tax office's, ministries', the police's and courts' names, relatives in trouble, a
boss or friend on a "new number", code callers, .apk installs and fake KHQR; football, Kun Khmer, cockfight,
boat-race, Vietnamese-lottery, baccarat "bot", slot, fish-shooting and esports bets; fee-first and "blacklisted OK"
loans, debt clearing, phones as collateral; USDT, forex and gold signals, farm, land and condo shares, task and
order-boosting jobs, romance-led crypto; escorts, massage extras, paid video calls, pills, creams and sextortion —
many with no link. Its legitimate messages carry the look-alikes (about 24 loan repayment reminders and 3 pawn
renewals, codes that say never to share them, approvals and disbursements that say no fee is asked, the NBC's, the
police's, banks' and telcos' scam warnings, draw results, opted-in offers with STOP, gold prices, pharmacy refills,
customs duty at a counter, a men's health clinic and a urologist). Main's filter before the tenth round and the
tenth round's were each scored on it once (`benchmarks/RESULTS.md`); it is fitted on since the eleventh round.

`written11.jsonl` holds the ``written11`` split: 627 training messages (281 spam, 346 legitimate; 220 Khmer, 209
English, 198 mixed; 30 Khmer ones with zero-width spaces, 21 over 300 characters) written one by one after sealed10
was scored, by two writers. One wrote mostly legitimate messages in Latin-script Khmer and English, the kinds sealed10
showed held: couriers asking for an ID or a landmark, duty at a counter, parcels held at a branch; estimated bills
and meter photos, outages, tariffs; loans approved and paid to a shop or a school, repayments received,
restructurings, cards, limits and devices; banks' "we never ask for your PIN" warnings in many wordings; draw winners
posted on a brand's page, points and vouchers with STOP; payroll, rent, ID cards, passports, tax filing, NSSF,
clinics, tickets and schools — beside product spam with no trigger word (gels, creams, pills, herbal drinks, fixed
tips, lottery numbers, slot timing, KHQR "security bonuses", a "teacher's" fee). The other listed 70 scam scripts
the corpus did not have (TikTok live wheels, a new-airport ticket, a returning migrant's gift, flood-relief logins,
voter-list checks, Marketplace escrow, severance forms, wedding-invitation .apk files, betting-credit loans,
contact-reading loan apps, scam-recovery services, dropshipping recharges…) and their look-alikes, in Khmer script
and English, 21 of them long stories or notices.

`written12.jsonl` holds the ``written12`` split: 300 training messages (150 spam, 150 legitimate, 25 of each
category), all Latin-script Khmer with English mixed in, written one by one after sealed13 was scored, by a writer
who read the corpus (to add what it lacks, not to copy it): spellings as different people type them (luy/lui,
chol/jol, phjer/pnher, sum/som, ot/at, some all in lower case), scams asking for a code to be sent back or told,
fees before a prize or a loan, task jobs, betting agents, adult services; and their look-alikes (brands' codes with
"kom prab code nis", couriers' and shops' "ot ey te", microfinance repayment reminders, promotions with STOP, bills,
appointments).

`written13.jsonl` holds the ``written13`` split: 417 training messages (209 spam, 208 legitimate, in Khmer, English
and mixed), written one by one by two writers after sealed20 was committed and without reading it, from the shapes
the model's cross-validation got wrong once sealed16 to sealed19 were fitted on (shown to them as examples not to
copy): fake transaction and login alerts with a number to call, look-alike links naming a brand, payment redirected
to a new number (teachers, landlords, collectors, technicians, relatives), fake officials asking a fee, brand-like
draws with a delivery fee or tax and a mobile or Telegram contact; and their look-alikes (banks', wallets', telcos'
and the NBC's scam warnings quoting the scam, account upgrades, brands' promotions and genuine draw results, small
businesses and tutors asked to be paid to their own Wing or ABA number, cash-on-delivery parcels, family members'
codes and reminders). None is 0.40 (character 5-gram Jaccard) to another split, none 0.25 to a sealed20 message
(three that were are left out).

`written14.jsonl` holds the ``written14`` split: 497 more training messages (249 spam, 248 legitimate), written the
same way by two more writers after sealed21 was committed and without reading it, from what cross-validation got
wrong once sealed20 was fitted on: a utility's or a bank's "collection officer" with an account to pay, immigration
and other offices asking for a call back, loan-app "problems" asking for ID photos and the code, shops' and gold
shops' draws with a delivery fee, non-explicit adult offers with no link (a barbershop's "special service",
companions for a trip, pills and gels delivered discreetly); and their look-alikes (warnings that quote a scam's own
text, link or number, small businesses' bills and debts to pay to their own number, family members' codes). None is
0.40 to another split, none 0.25 to a sealed21 message (three that were are left out).

`sealed11.jsonl` holds the ``sealed11`` split: 422 messages (200 spam, 222 legitimate, every category and language;
126 of the 141 mixed ones in Latin-script Khmer, 32 Khmer ones with zero-width spaces, 21 over 300 characters)
written one by one by a writer who had not read the filter, its rules, its model, its training data nor any other
split's messages, and committed before any filter ran on it; no message is closer than 0.40 (character 5-gram
Jaccard, digits read as 0; the closest is 0.37) to one of the other splits, nor 0.3 to another of its own (0.18). Its
spam includes lucky draws, expiring points, TV quizzes and giveaways wanting a fee, a PIN, a code or a click; banks',
wallets', carriers', the tax office's, customs', couriers', the police's, courts', ministries', schools', hospitals'
and landlords' names, a boss's gift cards, relatives on a new number, code callers, app installs and a wrong-number
romance; casinos, football, Kun Khmer, cockfight, boat-race, lottery, esports, slot, fish-shooting and baccarat
"signal" bets; fee-first, payday and vehicle-paper loans, debt clearing, contact-reading loan apps; crypto, forex and
gold signals, durian, cattle, land, rubber and shrimp shares, task jobs, withdrawals locked until a fee, savings
circles; escorts, massage extras, pills, creams, gels, paid video calls and channels, sextortion. Its legitimate
messages carry the look-alikes (about 20 loan repayment reminders and pawn renewals, codes, couriers asking for an ID
or a landmark or collecting duty, men's health and government appointments, estimated bills, approvals and
disbursements, scam warnings of banks, wallets, carriers, the police and the NBC, draw results saying no fee is
asked, opted-in offers with STOP, gold prices, pharmacy refills, insurance claims). Main's filter before the eleventh
round and the eleventh round's were each scored on it once (`benchmarks/RESULTS.md`); fitted on since the twelfth.

`sealed12.jsonl` holds the ``sealed12`` split: 422 messages (200 spam, 222 legitimate, every category and language;
33 Khmer ones with zero-width spaces) written one by one by a writer who had not read the filter, its rules, its
model, its training data nor any other split's messages, from a brief that named only the categories and languages
(no list of scenarios: the writer listed what Cambodian phones receive before writing), and committed before any
filter ran on it; no message is closer than 0.40 (character 5-gram Jaccard, digits read as 0; the closest is 0.39) to
one of the other splits, nor 0.3 to another of its own (0.25). The eleventh round's filter was scored on it once
(`benchmarks/RESULTS.md`), and again after a link-reading fix found among its misses (links glued to Khmer text);
fitted on since the twelfth round.

`sealed13.jsonl` holds the ``sealed13`` split: 422 messages (200 spam, 222 legitimate, every category and language;
7 Khmer ones with zero-width spaces), written as sealed12 was (two writers, one for each label, who had read neither
the filter nor any split, from a brief naming only the categories and languages) and committed before any filter
ran on it; none is closer than 0.40 (character 5-gram Jaccard) to one of the other splits as written, 12 (short code,
bill and appointment notices, 0.41–0.52) with digits read as 0; none 0.3 to another of its own (0.27). The eleventh
round's filter and the twelfth's were each scored on it once (`benchmarks/RESULTS.md`); fitted on since the
thirteenth.

`sealed14.jsonl` holds the ``sealed14`` split: 422 messages (200 spam, 222 legitimate, every category and language;
6 Khmer ones with zero-width spaces), written as sealed13 was by two other writers and committed before any filter
ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other splits as written (the closest 0.40 rounded
up), 19 (0.40–0.52) with digits read as 0; none 0.3 to another of its own (0.22). The twelfth round's filter and the
thirteenth's were each scored on it once (`benchmarks/RESULTS.md`); fitted on since the fourteenth.

`sealed15.jsonl` holds the ``sealed15`` split: 422 messages (200 spam, 222 legitimate, every category and language;
63 Khmer ones with zero-width spaces), written as sealed13 and sealed14 were by two other writers and committed
before any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other splits as written, 13
(0.40–0.52) with digits read as 0; none over 0.3 to another of its own. Its spam writer notes that many Khmer and
mixed messages follow the situation of an English one of the same category (a likeness across scripts the
similarity check does not see). The thirteenth round's filter
and the fourteenth's were each scored on it once (`benchmarks/RESULTS.md`), and the fourteenth's again after a fix
found among its misses (masked digits, "1234-xxx-89", read as the adult term "xxx"); fitted on since the
fifteenth.

`sealed16.jsonl` holds the ``sealed16`` split: 422 messages (200 spam, 222 legitimate, every category and language;
12 Khmer ones with zero-width spaces), written as sealed15 was by two other writers, asked this time not to write a
Khmer or mixed message as a translation of an English one, and committed before any filter ran on it; none is 0.40
(character 5-gram Jaccard) to one of the other splits as written, 15 (0.40–0.60) with digits read as 0; none 0.3 to
another of its own (0.19). The fifteenth round's filter was scored on it, and the sixteenth's (a new model, chosen
out of fold) on it and sealed17; fitted on since the seventeenth.

`sealed17.jsonl` holds the ``sealed17`` split: 422 messages (200 spam, 222 legitimate, every category and language;
one Khmer message with zero-width spaces), written as sealed16 was by two other writers (no message a translation of
another) and committed before any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other
splits, none 0.3 to another of its own (0.21). Scored in the sixteenth round; fitted on since the seventeenth.

`sealed18.jsonl` holds the ``sealed18`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written as sealed17 was by two other writers, asked this time for scams that imitate brands' own announcements and
for brands' own lucky-draw results among the legitimate notices, and committed before any filter ran on it; none is
0.40 (character 5-gram Jaccard) to one of the other splits, none 0.3 to another of its own (0.25). Scored in the
sixteenth round; fitted on since the seventeenth.

`sealed19.jsonl` holds the ``sealed19`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written as sealed18 was by two other writers (scams quoting a brand's real website beside their own contact among
the spam, brands' own winner notices among the legitimate), committed before any filter ran on it; none is 0.40
(character 5-gram Jaccard) to one of the other splits, none 0.3 to another of its own (0.24). Scored once in the
sixteenth round; fitted on since the seventeenth.

`sealed20.jsonl` holds the ``sealed20`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written by two more writers from a brief naming only the categories, the languages and the hard kinds of each (spam
imitating brands' announcements or quoting a real site beside its own contact, spam with no link and no number;
legitimate messages that look a little like spam), who read neither the filter nor any split, and committed before
any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other splits, none 0.3 to another of its
own. Scored once in the seventeenth round; fitted on since the eighteenth.

`sealed21.jsonl` holds the ``sealed21`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written as sealed20 was, from the same brief, by two more writers who read neither the filter nor any split, and
committed before any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other splits, none 0.3
to another of its own. Scored once in the eighteenth round; fitted on since the nineteenth.

`sealed22.jsonl` holds the ``sealed22`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written as sealed20 and sealed21 were, from the same brief, by two more writers who read neither the filter nor any
split, and committed before any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other
splits, none 0.3 to another of its own. Scored once in the nineteenth round; fitted on since the twentieth.

`sealed23.jsonl` holds the ``sealed23`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written as sealed20 to sealed22 were, from the same brief, by two more writers who read neither the filter nor any
split, and committed before any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other
splits, none 0.3 to another of its own. Scored once in the twentieth round; fitted on since the twenty-first.

`sealed24.jsonl` holds the ``sealed24`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written as sealed20 to sealed23 were, from the same brief, by two more writers who read neither the filter nor any
split, and committed before any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other
splits, none 0.3 to another of its own. Scored once in the twenty-first round; fitted on since the twenty-second.

`sealed25.jsonl` holds the ``sealed25`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written as sealed20 to sealed24 were, from the same brief, by two more writers who read neither the filter nor any
split, and committed before any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other
splits, none 0.3 to another of its own. Scored once in the twenty-second round; fitted on since the twenty-third.

`sealed26.jsonl` holds the ``sealed26`` split: 422 messages (200 spam, 222 legitimate, every category and language),
written as sealed20 to sealed25 were, from the same brief, by two more writers who read neither the filter nor any
split, and committed before any filter ran on it; none is 0.40 (character 5-gram Jaccard) to one of the other
splits, none 0.3 to another of its own. Scored once in the twenty-third round; fitted on since the twenty-fourth.

`sealed27.jsonl` and `sealed28.jsonl` hold the ``sealed27`` and ``sealed28`` splits: 422 messages each (200 spam, 222
legitimate, every category and language), written by four more writers (one per label and split) from a brief
rewritten from the same headings (the categories, the languages, the hard kinds on both sides), who read neither the
filter nor any split; the messages that came out 0.40 or more (character 5-gram Jaccard) to one of the other splits
(29 and 28) or, for sealed28, to sealed27 (14) were rewritten by writers shown only their own file and the ids. Now
none is 0.40 to another split but one sealed28 message to one of sealed27 (0.401: two writers' take on the same
page-appeal scam), none 0.3 to another of its own. Committed before any filter ran on them, and scored together,
once, in the twenty-fourth round; fitted on since the twenty-fifth.

`written15.jsonl` holds the ``written15`` split: 487 more training messages (243 spam, 244 legitimate), written by
two more writers after sealed29 and sealed30 were committed and without reading them or any split, from what
cross-validation got wrong once sealed27 and sealed28 were fitted on: landlords', schools' and suppliers' "new
account" payment requests, utility, tax and fine notices to pay now to a personal account, officials calling about a
prize or a crime, riders asking to pay again by QR, shops' draws with a small fee first, very short prizes, loans in
Khmer with no contact, discreet adult offers; and their look-alikes (friends, relatives and small shops asking to be
paid to their own number, relatives sending goods with a driver's number, gym, tuition and rent reminders, telecoms'
own bonuses, warnings that describe a scam). Of the 500 written, 13 were left out: 4 were 0.25 or more to a sealed29
or sealed30 message, 7 were 0.40 to another split, 2 were 0.30 to another of their own.

`sealed29.jsonl` and `sealed30.jsonl` hold the ``sealed29`` and ``sealed30`` splits: 422 messages each, written as
sealed27 and sealed28 were, from the same brief, by four more writers; the messages 0.40 or more to another split
(42 and 45) or, for sealed30, to sealed29 (11) were rewritten the same way (one twice). None is 0.40 to another
split now, none 0.3 to another of its own. Committed before any filter ran on them, and scored together, once, in
the twenty-fifth round; fitted on since the twenty-sixth.

`written16.jsonl` holds the ``written16`` split: 176 more training messages (69 spam, 107 legitimate) that carry a
shortened or tracking link (bit.ly, a courier's or a brand's short domain), written by one more writer after sealed31
to sealed34 were committed and without reading any split: couriers' tracking links, e-receipts, surveys, promotions to
a brand's own customers, and the scams that use short links. The corpus had few legitimate messages with one, and
with the log-count ratios the model had come to hold a courier's bare "Your parcel is on its way. Track it at
bit.ly/…" (the content filter benchmark's mix). Of the 200 written, 24 were left out: 19 were 0.25 or more to a
sealed31 to sealed34 message, 0.40 to another split, or 0.30 to another of their own; 5 "legitimate" ones pointed to
"aba.bank", a domain the brief's own example made up, which is not ABA's (the look-alike rule rightly refuses it).

`sealed31.jsonl` to `sealed34.jsonl` hold the ``sealed31`` to ``sealed34`` splits: 422 messages each, written as
sealed27 to sealed30 were, from the same brief, by eight more writers; the 207 messages 0.40 or more to another split
(or to one of the four written before it) were rewritten the same way (one twice). None is 0.40 to another split
now, none 0.3 to another of its own. Committed before any filter ran on them, and scored together, once, in the
twenty-sixth round; fitted on since the twenty-seventh.

`sealed35.jsonl` to `sealed38.jsonl` hold the ``sealed35`` to ``sealed38`` splits: 422 messages each, written as
sealed31 to sealed34 were, from the same brief, by eight more writers; the 233 messages 0.40 or more to another split
(or to one of the four written before it) were rewritten the same way (eight twice). None is 0.40 to another split
now, none 0.3 to another of its own. Committed before any filter ran on them, and scored together, once, in the
twenty-seventh round; fitted on since the twenty-eighth.

`sealed39.jsonl` to `sealed42.jsonl` hold the ``sealed39`` to ``sealed42`` splits: 422 messages each, written by
eight more writers from a brief rewritten from the same headings (each writer given a setting of their own: Phnom
Penh's workers and vendors, the provinces' farmers and guesthouses, students and office workers, migrants' families
and small traders); the 143 messages 0.40 or more to another split (or to one of the four written before it), or
0.30 to another of their own, were rewritten the same way (one twice). None is 0.40 to another split now, none 0.3
to another of its own. Committed before any filter ran on them, and scored together, once, in the twenty-eighth
round; fitted on since the twenty-ninth.

`written17.jsonl` holds the ``written17`` split: 313 more training messages (153 spam, 160 legitimate), written by
four more writers after sealed43 to sealed46 were committed and without reading any split, aimed at what sealed39 to
sealed42 showed: relatives and colleagues asking for a code the sender set up on the recipient's number, friends and
small shops asking to be paid back to their own number, with the details only they would know; schools, landlords
and utilities "moving to a new account", officials' call-backs with no link, "new number" relatives; and short spam of
every category in Latin-script Khmer. Of the 320 written, 7 were left out: 5 were 0.25 or more to a sealed43 to
sealed46 message and 2 were 0.40 to another split.

`sealed43.jsonl` to `sealed46.jsonl` hold the ``sealed43`` to ``sealed46`` splits: 422 messages each, written as
sealed39 to sealed42 were, from the same brief, by eight more writers, each given a setting of their own (Kampong
Cham, Takeo and Prey Veng's farmers and teachers; Sihanoukville's and Koh Kong's workers and fishermen; elderly
parents, civil servants and NGO staff; online sellers, riders, salons and cafes); the 176 messages 0.40 or more to
another split (or to one of the four written before it), or 0.30 to another of their own, were rewritten the same
way. Committed before any filter ran on them, and scored together, once, in the twenty-ninth round; fitted on
since the thirtieth.

`written18.jsonl` holds the ``written18`` split: 313 more training messages (158 spam, 155 legitimate), written by
four more writers after sealed47 to sealed50 were committed and without reading any split, aimed at what sealed43 to
sealed46 showed: officials' call-backs with a case number and no link, suppliers whose "payment details have
changed", couriers' fees and "confirm your address" links, codes "sent to you by mistake", relatives whose account is
locked, task jobs and foreign "donations", flirting strangers; and their look-alikes (colleagues and HR staff who need
a code they set up, couriers at a casino's gate, brands' draw results, the tax office's, courts' and the traffic
police's real notices, invoices to the same account as always). Of the 320 written, 7 were left out: 5 were 0.25 or
more to a sealed47 to sealed50 message and 2 were 0.40 to another split.

`sealed47.jsonl` to `sealed50.jsonl` hold the ``sealed47`` to ``sealed50`` splits: 422 messages each, written as
sealed43 to sealed46 were, from the same brief, by eight more writers, each given a setting of their own (Kampot, Kep
and the islands; the northern border provinces; Phnom Penh's condos and international schools; the north-east's
growers and guides); the 203 messages 0.40 or more to another split (or to one of the four written before it), or
0.30 to another of their own, were rewritten the same way (one twice). Committed before any filter ran on them, and
scored together, once, in the thirtieth round; fitted on since the thirty-first.

`written19.jsonl` holds the ``written19`` split: 159 more training messages (79 spam, 80 legitimate), written by two
more writers after sealed51 to sealed54 were committed and without reading any split, aimed at what sealed47 to
sealed50 showed: drivers "returning something you forgot" who need a code, landlords whose bank "has a problem",
"wrong number" strangers and relatives offering shares, "credit company" loans and raised limits, in Latin-script
Khmer mostly; and their look-alikes (goods sent by taxi or boat with the driver's number, clubs' treasurers collecting
a fee, the police's guest-registration notices, brands' draw results, relatives who need a code they set up). Of
the 160 written, one was left out: it was 0.25 or more to a sealed51 to sealed54 message.

`sealed51.jsonl` to `sealed54.jsonl` hold the ``sealed51`` to ``sealed54`` splits: 422 messages each, written as
sealed47 to sealed50 were, from the same brief, by eight more writers, each given a setting of their own (Kampong
Thom, Kampong Speu and Pursat; the industrial zones' managers and importers; Siem Reap in the low season; students and
their parents); the 223 messages 0.40 or more to another split (or to one of the four written before it), or 0.30 to
another of their own, were rewritten the same way. Committed before any filter ran on them, and scored together,
once, in the thirty-first round; fitted on since the thirty-second.

`written20.jsonl` holds the ``written20`` split: 158 more training messages (78 spam, 80 legitimate), written by two
more writers after sealed55 to sealed58 were committed and without reading any split, aimed at what sealed51 to
sealed54 showed: couriers "confirming a COD delivery" with the OTP, suppliers telling a company's accountant that
"our company changed bank account", relatives on a new phone who need a code, loans for a profession through a
Facebook page, debt settlements, plantation shares and task commissions, loyalty gifts with a delivery fee; and their
look-alikes (apps' delivery codes to tell the rider, colleagues and relatives who need a code a system sent for
something they set up, credit officers' own reminders, shops' tabs, couriers asking for a landmark, associations'
warnings about fake loan pages). Of the 160 written, two were left out: they were 0.25 or more to a sealed55 to
sealed58 message.

`sealed55.jsonl` to `sealed58.jsonl` hold the ``sealed55`` to ``sealed58`` splits: 422 messages each, written as
sealed51 to sealed54 were, from the same brief, by eight more writers, each given a setting of their own (Svay Rieng,
Prey Veng and Bavet; pagoda committees, weddings and funerals; Phnom Penh's young professionals; fishing families and
ferries); the 203 messages 0.40 or more to another split (or to one of the four written before it), or 0.30 to
another of their own, were rewritten the same way (seven twice). Committed before any filter ran on them, and
scored together, once, in the thirty-second round; fitted on since the thirty-third.

`written21.jsonl` holds the ``written21`` split: 157 more training messages (80 spam, 77 legitimate), written by two
more writers after sealed59 to sealed62 were committed and without reading any split, aimed at what sealed55 to
sealed58 showed: teachers, schools, pagoda committees, landlords, suppliers and treasurers whose "account has
changed", a bank's "fraud desk" that will let a transfer go unless called, riders wanting a small shipping fee
first, gifts with a handling fee, a radio station's gift for a reply, companions with no link; and their look-alikes
(savings groups' turns, schools and landlords asking to be paid to the account they always used, Bakong's and banks'
notices that send the customer to the app, stations' real winners, relatives and riders who need a code the system
sent to the recipient's number). Of the 160 written, three were left out: 0.25 or more to a sealed59 to sealed62
message, or 0.40 to another split.

`sealed59.jsonl` to `sealed62.jsonl` hold the ``sealed59`` to ``sealed62`` splits: 422 messages each, written as
sealed55 to sealed58 were, from a brief written again from the same headings, by eight more writers, each given a
setting of their own (Battambang's, Pailin's and Banteay Meanchey's farmers, millers and border traders; the garment,
footwear and bag factories of Kandal and Kampong Chhnang; Kratie, Stung Treng and the Mekong; car and motorbike
owners, drivers, garages and insurers); the 88 messages 0.40 or more to another split (or to one of the four written
before it), or 0.30 to another of their own, were rewritten the same way. Committed before any filter ran on them,
and scored together, once, in the thirty-third round; fitted on since the thirty-fourth.

`written22.jsonl` holds the ``written22`` split: 155 more training messages (80 spam, 75 legitimate), written by two
more writers after sealed63 to sealed66 were committed and without reading any split, aimed at what sealed59 to
sealed62 showed: "I sent a code to your number by mistake" and landlords' "my account is closed, pay to this wallet"
in Latin-script Khmer, power cut-offs unless paid, Khmer "bank officers" upgrading a system, couriers' fees and "safe
accounts", massage, spa and KTV adverts, couriers' lucky boxes, trading groups "a friend added you to", payment apps'
"field teams"; and their look-alikes (cash pick-up codes to give the agent, warnings quoting the scams in
Latin-script Khmer, password resets from brands' own domains, insurance and licence renewals, landlords saying their
account has not changed, couriers' tracking links through a shortener, spa and karaoke bookings). Of the 160
written, five were left out: 0.25 or more to a sealed63 to sealed66 message, or 0.40 to another split.

`sealed63.jsonl` to `sealed66.jsonl` hold the ``sealed63`` to ``sealed66`` splits: 422 messages each, written as
sealed59 to sealed62 were, from the same brief, by eight more writers, each given a setting of their own (patients,
their families and the hospitals, clinics and pharmacies they use; families building or buying a home and their
contractors, shops and lenders; Takeo's, Kampong Speu's and Svay Rieng's pig, chicken and fish farmers and their
dealers; the vendors of Phnom Penh's Orussey, Olympic and Central markets); the 90 messages 0.40 or more to another
split (or to one of the four written before it), or 0.30 to another of their own, were rewritten the same way.
Committed before any filter ran on them, and scored together, once, in the thirty-fourth round; fitted on since the
thirty-fifth.

`written23.jsonl` holds the ``written23`` split: 156 more training messages (79 spam, 77 legitimate), written by two
more writers after sealed67 to sealed70 were committed and without reading any split, aimed at what sealed63 to
sealed66 showed: pharmacies, market offices, hospitals and suppliers whose account "changed", cut-offs and expiring
cards unless paid, microfinance "credit officers" with a new way to repay, a child on a new number, a boss's top-up
cards, clinics' .apk installs, prizes from pharmacies, telcos and feed shops with a fee first, loans against a
motorbike or a phone with no contact, jobs abroad for a fee, friends' betting pools, injections "from Thailand"; and
their look-alikes (laboratories' result links with an access code, lenders' e-KYC codes and overdue reminders, draw
results on brands' own domains, couriers asking for a map pin, hospital deposits at the cashier, ministries' real
card renewals, staff who set up an account with the recipient's number). Of the 160 written, four were left out:
0.25 or more to a sealed67 to sealed70 message, or 0.40 to another split.

`sealed67.jsonl` to `sealed70.jsonl` hold the ``sealed67`` to ``sealed70`` splits: 422 messages each, written as
sealed63 to sealed66 were, from the same brief, by eight more writers, each given a setting of their own (students
going abroad and their parents; bus, taxi and truck companies on the national roads; young people online, their games,
shops and phones; guards, cleaners, cooks, drivers and domestic workers in Phnom Penh and their employers); the 100
messages 0.40 or more to another split (or to one of the four written before it), or 0.30 to another of their own,
were rewritten the same way. Committed before any filter ran on them, and scored together, once, in the thirty-fifth
round; fitted on since the thirty-sixth.

`written24.jsonl` holds the ``written24`` split: 155 more training messages (79 spam, 76 legitimate), written by two
more writers after sealed71 to sealed74 were committed and without reading any split, aimed at what sealed67 to
sealed70 showed: prizes with a small fee, a reply or a call first (golden SIMs and points, lottery draws, festival
gifts, member rewards), "staff" asking for a code back to raise a limit, results and visas "on hold", salaries that
"bounced", overpayments to refund, cut-offs in Latin-script Khmer, pawn loans "keep using it", casinos' free credit,
men's spas; and their look-alikes (draw results naming the winner with no fee, "a request to change your password"
notices, warnings quoting a scam's words, payroll and tuition notices, couriers' agreed fees, spa and visa
appointments, family members and clubs who set up an account with the recipient's number). Of the 160 written, five
were left out: 0.25 or more to a sealed71 to sealed74 message, or 0.40 to another split.

`sealed71.jsonl` to `sealed74.jsonl` hold the ``sealed71`` to ``sealed74`` splits: 422 messages each, written as
sealed67 to sealed70 were, from the same brief, by eight more writers, each given a setting of their own (tailors and
small garment workshops; electricians, plumbers, mechanics and the households that hire them; rice-wine, palm-sugar
and food makers of Kampong Speu and Kandal; motodops, street vendors and day labourers of Phnom Penh's outer
districts); the 105 messages 0.40 or more to another split (or to one of the four written before it), or 0.30 to
another of their own, were rewritten the same way (one twice). Committed before any filter ran on them, and scored
together, once, in the thirty-sixth round; fitted on since the thirty-seventh.

`written25.jsonl` holds the ``written25`` split: 158 more training messages (78 spam, 80 legitimate), written by two
more writers after sealed75 to sealed78 were committed and without reading any split, aimed at what sealed71 to
sealed74 showed: "a code sent to your number by mistake" in Latin-script Khmer, a buyer's payment "to confirm" with a
code, wallets' cashback by dialling a code and a PIN, card charges to stop by calling, suppliers' and landlords'
changed accounts, offices' fees and cash support paid to a person's account, cut-offs with an officer's call,
prizes and points that lapse tonight, a village's prize for the elderly with a fee, plantation shares, loans against a
motorbike you keep, men's tonics; and their look-alikes (banks' e-KYC links on their own domains, purchase codes
naming the merchant, draw winners on a mall's own site, departments' warnings quoting a scam's words, real cut-off
and cashback notices, new accounts announced the proper way, colleagues and shops who set up an account with the
recipient's number). Of the 160 written, two were left out: 0.25 or more to a sealed75 to sealed78 message.

`sealed75.jsonl` to `sealed78.jsonl` hold the ``sealed75`` to ``sealed78`` splits: 422 messages each, written as
sealed71 to sealed74 were, from a brief written again from the same headings, by eight more writers, each given a
setting of their own (school teachers, private English and computer schools and the parents who pay their fees;
rubber, cashew and pepper smallholders of Kampong Cham and Tbong Khmum and their buyers; NGO staff, community health
volunteers and the villagers they serve; weddings and ceremonies, their planners, caterers and rentals, and their
guests); the 47 messages 0.40 or more to another split (or to one of the four written before it), or 0.30 to another
of their own, were rewritten the same way. Committed before any filter ran on them, and scored together, once,
in the thirty-seventh round; fitted on since the thirty-eighth.

`written26.jsonl` holds the ``written26`` split: 158 more training messages (80 spam, 78 legitimate), written by
two more writers after sealed79 to sealed82 were committed and without reading any split, aimed at what sealed75 to
sealed78 showed: microfinance and bank "credit officers" taking instalments on a personal number or a person's
account, schools' fees to a new or personal account and a school IT desk asking for passwords, prizes drawn from a
booking, a sticker, an invitation or a warranty card with a fee first, offerings to a pagoda's "new account", a
relative in an accident or in hospital, arrears and "loan insurance" paid to an agent, cards "expiring", savings apps
that need a top-up before a withdrawal, membership networks, paid certificates for online jobs, private parties; and
their look-alikes (lenders' reminders with their official ways to pay, schools' fee and IT notices, clubs and
colleagues who registered the recipient's number and ask for the code, wedding vendors' instalments, expo draws
collected with the ticket, hotels' gifts, the credit bureau's and hospitals' real messages). Of the 160 written,
two were left out: 0.25 or more to a sealed79 to sealed82 message.

`sealed79.jsonl` to `sealed82.jsonl` hold the ``sealed79`` to ``sealed82`` splits: 422 messages each, written as
sealed75 to sealed78 were, from the same brief, by eight more writers, each given a setting of their own (civil
servants, police officers and soldiers' families and the offices they work in; hotel, restaurant and bar staff of
Phnom Penh's riverside and Boeung Keng Kang and their employers; potters, fishers and floating villages of Kampong
Chhnang and Pursat and their traders; beauty salons, gyms, cosmetics and skincare sellers and their customers); the
53 messages 0.40 or more to another split (or to one of the four written before it), or 0.30 to another of their
own, were rewritten the same way. Committed before any filter ran on them, and scored together, once, in the
thirty-eighth round; fitted on since the thirty-ninth.

`written27.jsonl` holds the ``written27`` split: 146 more training messages (77 spam, 69 legitimate), written by
two more writers after sealed83 to sealed86 were committed and without reading any split, aimed at what sealed79 to
sealed82 showed: "I typed the wrong number and my bank code went to you", schools' and teachers' fees to a personal
or "new" account (in Khmer mostly), landlords, lenders and tontines announcing a new way to pay, credit officers
collecting on their own number or selling "loan insurance" and top-up loans, cards "expiring" that need the card
number, bosses "in a meeting" who need gift or top-up cards, golden numbers with a deposit, parcels on hold for a
fee; and their look-alikes (clubs, gyms and teams that registered the recipient's number and ask for the code, the
National Bank's, banks' and telcos' warnings quoting scammers' words, ride-hailing and delivery PINs, suppliers'
invoices to a company account, shops announcing a new company account and how to check it, job notices). Of the 160
written, 14 were left out: 10 were 0.25 or more to a sealed83 to sealed86 message, 4 were 0.40 or more to an earlier
split.

`sealed83.jsonl` to `sealed86.jsonl` hold the ``sealed83`` to ``sealed86`` splits: 422 messages each, written as
sealed79 to sealed82 were, from the same brief, by eight more writers, each given a setting of their own
(microfinance borrowers' groups and village savings groups of Takeo and Prey Veng; real-estate agents, borey buyers,
renters and land sellers around Phnom Penh and Kandal; phone repair shops, SIM and top-up sellers and their
customers; accountants, tax filers and small companies with the tax department, the Ministry of Commerce and their
banks); the 58 messages 0.40 or more to another split (or to one of the four written before it), or 0.30 to another
of their own, were rewritten the same way. Committed before any filter ran on them, and scored together, once, in
the thirty-ninth round; fitted on since the fortieth.

`written28.jsonl` holds the ``written28`` split: 149 more training messages (77 spam, 72 legitimate), written by
two more writers after sealed87 to sealed90 were committed and without reading any split, aimed at what sealed83 to
sealed86 showed: brands' draws whose winner pays a transport or registration fee to a person, savings-group leaders
and neighbours passing on a "credit officer's" new number, condo, land and farm shares that double, hospitals'
"emergency desks" asking a deposit, a landlord's son with a new account for the rent, utilities' overdue bills to a
person's account, schools' tablet fees to a "new account", registrations and licences "expiring" at a look-alike
link and portal "technicians" asking for a remote-support ID, early settlement discounts through a "partner" wallet;
and their look-alikes (savings groups, colleagues, children and clubs who registered the recipient and ask for the
code, draw results collected with no fee, banks' and telcos' alerts quoting look-alike domains, technicians
confirming a visit, companies' new accounts to be checked by a known number, the tax department's, the Ministry of
Commerce's and utilities' real notices). Of the 160 written, 11 were left out: 6 were 0.25 or more to a sealed87 to
sealed90 message, 5 were 0.40 or more to an earlier split.

`sealed87.jsonl` to `sealed90.jsonl` hold the ``sealed87`` to ``sealed90`` splits: 422 messages each, written as
sealed83 to sealed86 were, from the same brief, by eight more writers, each given a setting of their own (rice
millers, paddy traders and exporters and the farmers who sell to them; insurance agents, policy holders and claims
staff; inter-provincial bus and minivan companies, their ticket agents and parcel counters and their travellers;
petrol stations, cooking-gas delivery shops and fuel distributors and their customers); the 66 messages 0.40 or more
to another split (or to one of the four written before it), or 0.30 to another of their own, were rewritten the same
way. Committed before any filter ran on them, and scored together, once, in the fortieth round; fitted on since the
forty-first.

`written29.jsonl` holds the ``written29`` split: 148 more training messages (77 spam, 71 legitimate), written by
two more writers after sealed91 to sealed94 were committed and without reading any split, aimed at what sealed87 to
sealed90 showed: credit, collection and distributors' credit officers whose "system is down", asking the instalment
on their own number "keep this SMS as your receipt", bosses "in a meeting" asking for the day's sales, suppliers'
accounts "under review", bills and insurance premiums to an agent's number, court summons, bank suspensions and tax
officers by phone, loan apps threatening to shame, "18+ list" delete fees, parcel and bus counters' draws with a
delivery fee, failed ticket payments asking the card and PIN; and their look-alikes (teams, coaches, counters and
relatives who booked or registered something with the recipient's number and ask for the code, distributors' new
credit accounts, loan approvals, insurers' real reminders, bus companies' tickets and parcel notices, lenders'
reminders that say staff never collect on a personal number). Of the 160 written, 12 were left out: 7 were 0.25 or
more to a sealed91 to sealed94 message, 5 were 0.40 or more to an earlier split.

`sealed91.jsonl` to `sealed94.jsonl` hold the ``sealed91`` to ``sealed94`` splits: 422 messages each, written as
sealed87 to sealed90 were, from the same brief, by eight more writers, each given a setting of their own (funeral
services, coffin and ceremony suppliers, crematoria and the families arranging funerals; pet shops, veterinary
clinics, groomers and pet owners; travel agencies, visa and passport agents, tour guides and travellers; gold
shops, pawnshops and money changers in the markets and their customers); the 75 messages 0.40 or more to another
split (or to one of the four written before it), or 0.30 to another of their own, were rewritten the same way.
Committed before any filter ran on them, and scored together, once, in the forty-first round; fitted on since the
forty-second.

`written30.jsonl` holds the ``written30`` split: 149 more training messages (77 spam, 72 legitimate), written by
two more writers after sealed95 to sealed98 were committed and without reading any split, aimed at what sealed91 to
sealed94 showed: credit officers, collectors and pawnshops taking the instalment or a pawn's interest on their own
account, collectors threatening a guarantor, shops, clinics and funeral homes whose account "is broken" or
"changed", relatives on a new number (funerals, pets at the vet, a son held abroad), charities' and shops' hand-outs
and draws with a fee, cards "frozen" with a number to call, permits "expiring" at a look-alike link, inspectors who
can "spare" a shop, shares in breeding farms and cafés; and their look-alikes (relatives and clubs who applied for
something with the recipient's number and ask for the code, banks' and the National Bank's warnings quoting
scammers, job notices, reorder reminders and product recalls, pawnshops' and lenders' real reminders). Of the 160
written, 11 were left out: 8 were 0.25 or more to a sealed95 to sealed98 message, 3 were 0.40 or more to an earlier
split.

`sealed95.jsonl` to `sealed98.jsonl` hold the ``sealed95`` to ``sealed98`` splits: 422 messages each, written as
sealed91 to sealed94 were, from the same brief, by eight more writers, each given a setting of their own
(pharmacies, pharmacists, medicine wholesalers and their customers; internet and cable TV providers, their
installers and subscribers; solar panel and battery installers and the rural households buying on instalments;
printing houses, advertising agencies and event organisers and their clients); the 99 messages 0.40 or more to
another split (or to one of the four written before it), or 0.30 to another of their own, were rewritten the same
way. Committed before any filter ran on them, and scored together, once, in the forty-second round. Nothing is
fitted or chosen on them (`UNSEEN_SPLITS`).

`sealed99.jsonl` to `sealed102.jsonl` hold the ``sealed99`` to ``sealed102`` splits: 422 messages each, written as
sealed95 to sealed98 were, from the same brief, by eight more writers, each given a setting of their own (driving
schools, car rental companies, learner drivers and the licence and vehicle offices; dental clinics, optical shops and
eye clinics and their patients; gaming cafés, e-sports teams, game top-up sellers, young gamers and their parents;
fish, meat and vegetable wholesalers of Phnom Penh's night markets and the restaurants that buy from them); the 112
messages 0.40 or more to another split (or to one of the four written before it), or 0.30 to another of their own,
were rewritten the same way. Committed before any filter ran on them. Nothing is fitted or chosen on them
(`UNSEEN_SPLITS`).

The CI test
(`apps/messaging/tests/test_filter_corpus.py`) and the benchmark (`benchmarks/content_filter_corpus.py`) both score
the filter with `evaluate`.

A message counts as stopped when the filter holds or rejects it. Per group (category, language, split, all):
recall is the share of its spam stopped; precision is the share of stopped messages that are spam among the group's
spam and the legitimate messages it is compared with (the same language for a language, all legitimate messages
for a spam category, since a category has no legitimate messages of its own); for a legitimate category the
figure that matters is its false-positive rate, the share held.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from apps.messaging.choices import FilterAction

CORPUS_FILE = Path(__file__).resolve().parent / "messages.jsonl"
SPLITS = (
    "train",
    "test",
    "fresh",
    "unseen",
    "holdout",
    "blind",
    "written",
    "sealed",
    "written2",
    "sealed2",
    "written3",
    "sealed3",
    "written4",
    "sealed4",
    "sealed5",
    "written6",
    "sealed6",
    "written7",
    "sealed7",
    "written8",
    "sealed8",
    "written9",
    "sealed9",
    "written10",
    "sealed10",
    "written11",
    "sealed11",
    "sealed12",
    "written12",
    "sealed13",
    "sealed14",
    "sealed15",
    "sealed16",
    "sealed17",
    "sealed18",
    "sealed19",
    "written13",
    "sealed20",
    "written14",
    "sealed21",
    "sealed22",
    "sealed23",
    "sealed24",
    "sealed25",
    "sealed26",
    "sealed27",
    "sealed28",
    "written15",
    "sealed29",
    "sealed30",
    "written16",
    # written17 to written30 came in the twenty-ninth to forty-second rounds; they stay here, in the order the model
    # has been fitted in (the fit reads the splits in this order, and `load` reads each from the file of its name).
    "written17",
    "written18",
    "written19",
    "written20",
    "written21",
    "written22",
    "written23",
    "written24",
    "written25",
    "written26",
    "written27",
    "written28",
    "written29",
    "written30",
    "sealed31",
    "sealed32",
    "sealed33",
    "sealed34",
    "sealed35",
    "sealed36",
    "sealed37",
    "sealed38",
    "sealed39",
    "sealed40",
    "sealed41",
    "sealed42",
    "sealed43",
    "sealed44",
    "sealed45",
    "sealed46",
    "sealed47",
    "sealed48",
    "sealed49",
    "sealed50",
    "sealed51",
    "sealed52",
    "sealed53",
    "sealed54",
    "sealed55",
    "sealed56",
    "sealed57",
    "sealed58",
    "sealed59",
    "sealed60",
    "sealed61",
    "sealed62",
    "sealed63",
    "sealed64",
    "sealed65",
    "sealed66",
    "sealed67",
    "sealed68",
    "sealed69",
    "sealed70",
    "sealed71",
    "sealed72",
    "sealed73",
    "sealed74",
    "sealed75",
    "sealed76",
    "sealed77",
    "sealed78",
    "sealed79",
    "sealed80",
    "sealed81",
    "sealed82",
    "sealed83",
    "sealed84",
    "sealed85",
    "sealed86",
    "sealed87",
    "sealed88",
    "sealed89",
    "sealed90",
    "sealed91",
    "sealed92",
    "sealed93",
    "sealed94",
    "sealed95",
    "sealed96",
    "sealed97",
    "sealed98",
    "sealed99",
    "sealed100",
    "sealed101",
    "sealed102",
)
# The splits never fitted nor chosen on: the measure of new wording (`training.py`). The last round's sealed splits,
# scored once and fitted on from the next round, and the next round's, committed and awaiting that one scoring.
UNSEEN_SPLITS: tuple[str, ...] = (
    "sealed95",
    "sealed96",
    "sealed97",
    "sealed98",
    "sealed99",
    "sealed100",
    "sealed101",
    "sealed102",
)
SPAM, LEGIT = "spam", "legit"
# The targets: share of spam held or rejected, share of legitimate messages held.
TARGET_SPAM_STOPPED = 0.98
TARGET_LEGIT_HELD = 0.005


@dataclass(frozen=True)
class Sample:
    id: str
    split: str
    label: str
    category: str
    language: str
    text: str


@dataclass(frozen=True)
class Outcome:
    sample: Sample
    action: FilterAction
    score: int
    codes: tuple[str, ...]

    @property
    def stopped(self) -> bool:
        return self.action != FilterAction.ALLOW


@dataclass(frozen=True)
class Figures:
    spam: int
    spam_stopped: int
    legit: int
    legit_stopped: int

    @property
    def recall(self) -> float:
        return self.spam_stopped / self.spam if self.spam else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.legit_stopped / self.legit if self.legit else 0.0

    @property
    def precision(self) -> float:
        stopped = self.spam_stopped + self.legit_stopped
        return self.spam_stopped / stopped if stopped else 1.0

    def meets_targets(self) -> bool:
        return self.recall >= TARGET_SPAM_STOPPED and self.false_positive_rate <= TARGET_LEGIT_HELD


@lru_cache(maxsize=1)
def load() -> tuple[Sample, ...]:
    samples: list[Sample] = []
    # The templated splits are in `messages.jsonl`; each split written one by one is in a file of its name.
    files = (CORPUS_FILE, *(CORPUS_FILE.with_name(f"{split}.jsonl") for split in SPLITS[SPLITS.index("blind") :]))
    for path in files:
        with path.open(encoding="utf-8") as lines:
            samples.extend(Sample(**json.loads(line)) for line in lines if line.strip())
    return tuple(samples)


def evaluate(check: Callable[[str], object], samples: Iterable[Sample] | None = None) -> list[Outcome]:
    """Run each sample through `check` (a function returning a `FilterDecision`)."""
    outcomes = []
    for sample in load() if samples is None else samples:
        decision = check(sample.text)
        outcomes.append(Outcome(sample, decision.action, decision.score, tuple(decision.codes)))
    return outcomes


def figures(outcomes: Iterable[Outcome]) -> Figures:
    spam = legit = spam_stopped = legit_stopped = 0
    for outcome in outcomes:
        if outcome.sample.label == SPAM:
            spam += 1
            spam_stopped += outcome.stopped
        else:
            legit += 1
            legit_stopped += outcome.stopped
    return Figures(spam, spam_stopped, legit, legit_stopped)


def report(outcomes: list[Outcome]) -> list[str]:
    """Lines of a plain-text report: per split, all but the unseen split ("fitted"), overall; per language and per
    category."""
    lines = [
        f"{'group':28} {'spam':>5} {'stopped':>8} {'recall':>7} {'legit':>6} {'held':>5} {'FP rate':>8} {'prec.':>7}"
    ]

    def row(name: str, group: Figures) -> None:
        # Recall and precision mean nothing for a group without spam (a legitimate category): dashes.
        recall, precision = (f"{group.recall:7.1%}", f"{group.precision:7.1%}") if group.spam else ("—", "—")
        lines.append(
            f"{name:28} {group.spam:5} {group.spam_stopped:8} {recall:>7} {group.legit:6} "
            f"{group.legit_stopped:5} {group.false_positive_rate:8.1%} {precision:>7}"
        )

    for split in (*SPLITS, "fitted", "all"):
        if split == "fitted":
            chosen = [o for o in outcomes if o.sample.split not in UNSEEN_SPLITS]
        else:
            chosen = [o for o in outcomes if split in ("all", o.sample.split)]
        if not chosen:
            continue
        legit = [o for o in chosen if o.sample.label == LEGIT]
        lines.append(f"-- {split} split")
        row("all", figures(chosen))
        for language in ("km", "en", "mixed"):
            row(f"language {language}", figures(o for o in chosen if o.sample.language == language))
        for label in (SPAM, LEGIT):
            categories = sorted({o.sample.category for o in chosen if o.sample.label == label})
            for category in categories:
                members = [o for o in chosen if o.sample.label == label and o.sample.category == category]
                # A spam category is compared with all legitimate messages (see the module docstring).
                row(f"{label} {category}", figures(members + (legit if label == SPAM else [])))
    return lines
