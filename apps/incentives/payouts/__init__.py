"""Payouts: providers redeem posted PPT earnings as airtime (an aggregator in Reloadly's shape) or cash (a payout
API in ABA PayWay's shape). Services, wire clients, local fakes, API, admin and tasks live in this package."""
