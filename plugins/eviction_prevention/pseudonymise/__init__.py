"""Pseudonymise: normalise identifiers, key them (HMAC chains under versioned keys), seal the person tokens,
and keep partner references only in the sealed identity vault.
"""
