"""PPT on Selendra: the ERC20 contract, the chain client that sends the hot wallet's transactions, and the local
JSON-RPC development chain. The off-chain ledger (`apps.tokens.services`) stays the source of truth; the chain mirrors
it. See the README's "PPT on Selendra" section."""
