// Package accounts owns API keys: generating, rolling and revoking them,
// hashing them for storage, authenticating requests by them, and the
// projects and accounts they belong to, with each project's IP allow-list,
// rate limit and the audit trail of every key change.
//
// Keys are 64 lowercase hex characters (32 random bytes from crypto/rand),
// shown once and stored only as SHA-256 hashes. Authentication looks a key
// up by its hash and compares the stored hash in constant time; a timing
// difference in the lookup could only tell an attacker about SHA-256 outputs
// of their own guesses, which gives them nothing. A project or account has
// one live key, two during the overlap after a roll (see RollProjectKey);
// a project's webhooks are signed with each of its live keys (SigningKeys).
package accounts
