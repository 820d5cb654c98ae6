// Package accounts owns API keys: generating them, hashing them for storage,
// authenticating requests by them, and the projects and accounts they belong
// to, with each project's IP allow-list.
//
// Keys are 64 lowercase hex characters (32 random bytes from crypto/rand),
// shown once and stored only as SHA-256 hashes. Authentication looks a key
// up by its hash and compares the stored hash in constant time; a timing
// difference in the lookup could only tell an attacker about SHA-256 outputs
// of their own guesses, which gives them nothing.
package accounts
